package com.example.countingbackend;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.peft4j.api.backend.Backend;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftRegistry;
import org.peft4j.testkit.BackendContract;

/**
 * A backend from outside peft4j's packages, found through its own service file, passes the
 * contract every backend must pass ({@link BackendContract}), as peft4j's own backends do.
 */
class CountingBackendContractTest extends BackendContract {

    @Override
    protected Backend createBackend() {
        return Peft.backend(CountingBackendProvider.NAME); // through discovery, as a user would select it
    }

    @Test
    void theRegistryFindsItByNameAndItReallyRuns() {
        PeftRegistry registry = PeftRegistry.discover();
        assertThat(registry.backends()).containsKey(CountingBackendProvider.NAME);
        assertThat(registry.backend("COUNTING")).isInstanceOf(CountingBackendProvider.class);
        CountingBackend b = (CountingBackend) backend();
        long before = b.created();
        b.fromFloats(new float[] {1, 2}, 2);
        assertThat(b.created()).isEqualTo(before + 1);
    }
}
