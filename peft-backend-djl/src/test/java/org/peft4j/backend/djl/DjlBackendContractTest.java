package org.peft4j.backend.djl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.pytorch.jni.JniUtils;

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

    @Test
    void theIntraOpThreadSettingSizesPyTorchsPoolAndRefusesNonsense() {
        int before = JniUtils.getNumThreads();
        int wanted = before == 1 ? 2 : 1;
        try {
            System.setProperty(Backend.INTRA_OP_THREADS, String.valueOf(wanted));
            try (Backend b = createBackend()) {
                assertThat(JniUtils.getNumThreads()).isEqualTo(wanted);
            }
            System.setProperty(Backend.INTRA_OP_THREADS, "two");
            assertThatThrownBy(this::createBackend).isInstanceOf(PeftException.class)
                    .hasMessageContaining(Backend.INTRA_OP_THREADS).hasMessageContaining("'two'");
            System.setProperty(Backend.INTRA_OP_THREADS, "0");
            assertThatThrownBy(this::createBackend).isInstanceOf(PeftException.class).hasMessageContaining("[1, 4096]");
        } finally {
            System.clearProperty(Backend.INTRA_OP_THREADS);
            JniUtils.setNumThreads(before);
        }
    }
}
