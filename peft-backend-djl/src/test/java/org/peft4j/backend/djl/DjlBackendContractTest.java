package org.peft4j.backend.djl;

import org.peft4j.api.backend.Backend;
import org.peft4j.testkit.BackendContract;

class DjlBackendContractTest extends BackendContract {
    @Override
    protected Backend createBackend() {
        return new DjlBackendProvider().create();
    }
}
