package org.peft4j.backend.djl;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.testkit.BackendContract;

class DjlBackendContractTest extends BackendContract {
    @Override
    protected Backend createBackend() {
        return new DjlBackendProvider().create();
    }

    @Test
    void scopesClosedOutOfOrderAreAPeftException() {
        try (Backend b = createBackend()) {
            Scope outer = b.scope();
            Scope inner = b.scope();
            assertThatThrownBy(outer::close)
                    .isInstanceOf(PeftException.class).hasMessageContaining("scope 1 of 2").hasMessageContaining("reverse order");
            inner.close();
        }
    }
}
