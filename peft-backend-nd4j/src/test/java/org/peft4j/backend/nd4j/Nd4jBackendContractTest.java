package org.peft4j.backend.nd4j;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;
import org.peft4j.api.backend.Backend;
import org.peft4j.testkit.BackendContract;

/** Runs the shared backend contract against the ND4J backend. */
class Nd4jBackendContractTest extends BackendContract {
    @Override
    protected Backend createBackend() {
        return new Nd4jBackendProvider().create();
    }

    @Test
    void theIntraOpThreadSettingSizesLibnd4jsLoopsAndOpenBlas() {
        int master = Nd4j.getEnvironment().maxMasterThreads();
        int blas = Nd4j.factory().blas().getMaxThreads();
        int wanted = master == 1 ? 2 : 1;
        try {
            System.setProperty(Backend.INTRA_OP_THREADS, String.valueOf(wanted));
            try (Backend b = createBackend()) {
                assertThat(Nd4j.getEnvironment().maxMasterThreads()).isEqualTo(wanted);
                assertThat(Nd4j.factory().blas().getMaxThreads()).isEqualTo(wanted);
            }
        } finally {
            System.clearProperty(Backend.INTRA_OP_THREADS);
            Nd4j.getEnvironment().setMaxMasterThreads(master);
            Nd4j.factory().blas().setMaxThreads(blas);
        }
    }
}
