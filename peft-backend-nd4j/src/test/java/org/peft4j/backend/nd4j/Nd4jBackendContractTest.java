package org.peft4j.backend.nd4j;

import org.peft4j.api.backend.Backend;
import org.peft4j.testkit.BackendContract;

/** Runs the shared backend contract against the ND4J backend. */
class Nd4jBackendContractTest extends BackendContract {
    @Override
    protected Backend createBackend() {
        return new Nd4jBackendProvider().create();
    }
}
