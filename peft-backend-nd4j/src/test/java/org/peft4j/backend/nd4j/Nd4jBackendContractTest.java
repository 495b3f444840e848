package org.peft4j.backend.nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.blas.Blas;
import org.nd4j.linalg.factory.Nd4j;
import org.peft4j.api.PeftException;
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

    @Test
    void onIntelCpusMatrixProductsRunOnMklElsewhereOnOpenBlas() throws Exception {
        boolean intel;
        try (var lines = Files.lines(Path.of("/proc/cpuinfo"))) {
            intel = lines.anyMatch(l -> l.startsWith("vendor_id") && l.contains("GenuineIntel"));
        }
        try (Backend b = createBackend()) {
            assertThat(Nd4j.factory().blas().getBlasVendor()).isEqualTo(intel ? Blas.Vendor.MKL : Blas.Vendor.OPENBLAS);
        }
    }

    @Test
    void mklsOwnLibrariesAreUnpackedBesideMklRt() throws Exception {
        java.util.List<Path> libs = Nd4jBlas.unpackMkl();
        assertThat(libs).extracting(p -> p.getFileName().toString())
                .contains("libmkl_rt.so.2", "libmkl_vml_def.so.2", "libmkl_vml_avx512.so.2");
        assertThat(libs).allSatisfy(p -> {
            assertThat(p).isRegularFile();
            assertThat(p.getParent()).isEqualTo(libs.get(0).getParent());
        });
    }

    @Test
    void anUnknownBlasChoiceIsRefusedNamingTheChoices() {
        String loaded = System.clearProperty(Nd4jBlas.JAVACPP_LOAD);
        try {
            System.setProperty(Nd4jBlas.PROPERTY, "atlas");
            assertThatThrownBy(Nd4jBlas::choose).isInstanceOf(PeftException.class)
                    .hasMessageContaining("'atlas'").hasMessageContaining("[auto, mkl, openblas]");
        } finally {
            System.clearProperty(Nd4jBlas.PROPERTY);
            if (loaded != null) {
                System.setProperty(Nd4jBlas.JAVACPP_LOAD, loaded);
            }
        }
    }
}
