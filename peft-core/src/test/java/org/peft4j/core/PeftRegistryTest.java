package org.peft4j.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.api.PeftApi;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.BackendProvider;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.nn.Module;
import org.peft4j.api.tuner.Tuner;
import org.peft4j.api.tuner.TunerContext;

/** The registry: one provider per name, and plugins built against a compatible API only. */
class PeftRegistryTest {

    record StubConfig(PeftConfig.Shared shared) implements PeftConfig {
        @Override
        public String peftType() {
            return "STUB";
        }
    }

    /** A tuner that claims {@code type} and was built against API {@code version}. */
    static class StubTuner implements Tuner<StubConfig> {
        private final String type;
        private final String version;

        StubTuner(String type, String version) {
            this.type = type;
            this.version = version;
        }

        @Override
        public String peftType() {
            return type;
        }

        @Override
        public Class<StubConfig> configClass() {
            return StubConfig.class;
        }

        @Override
        public String apiVersion() {
            return version;
        }

        @Override
        public void inject(Module model, StubConfig config, String adapterName, TunerContext context) {
        }

        @Override
        public Map<String, Parameter> adapterState(Module model, String adapterName) {
            return Map.of();
        }

        @Override
        public void setActive(Module model, String adapterName, boolean active) {
        }

        @Override
        public void delete(Module model, String adapterName) {
        }
    }

    static final class OtherStubTuner extends StubTuner {
        OtherStubTuner() {
            super("STUB", PeftApi.VERSION);
        }
    }

    static BackendProvider backend(String name, String version) {
        return new BackendProvider() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public String apiVersion() {
                return version;
            }

            @Override
            public String description() {
                return "stub";
            }

            @Override
            public Backend create() {
                throw new UnsupportedOperationException();
            }
        };
    }

    @Test
    void pluginsBuiltAgainstThisOrAnOlderMinorVersionAreAccepted() {
        PeftRegistry r = new PeftRegistry(List.of(new StubTuner("STUB", PeftApi.VERSION)),
                List.of(backend("b", PeftApi.VERSION)));
        assertThat(r.tuner("stub").peftType()).isEqualTo("STUB");
        assertThat(r.backend("B").name()).isEqualTo("b");
        String major = PeftApi.VERSION.split("\\.")[0];
        assertThat(new PeftRegistry(List.of(new StubTuner("STUB", major + ".0")), List.of()).tuners()).hasSize(1);
    }

    @Test
    void aPluginBuiltAgainstAnIncompatibleApiIsRefusedNamingBothVersions() {
        String major = PeftApi.VERSION.split("\\.")[0];
        String nextMajor = (Integer.parseInt(major) + 1) + ".0";
        String newerMinor = major + "." + (Integer.parseInt(PeftApi.VERSION.split("\\.")[1]) + 1);
        for (String bad : new String[] {nextMajor, newerMinor, "banana", null}) {
            assertThatThrownBy(() -> new PeftRegistry(List.of(new StubTuner("STUB", bad)), List.of()))
                    .isInstanceOf(PeftException.class)
                    .hasMessageContaining(StubTuner.class.getName())
                    .hasMessageContaining("built against peft4j API " + bad)
                    .hasMessageContaining("provides API " + PeftApi.VERSION);
        }
        assertThatThrownBy(() -> new PeftRegistry(List.of(), List.of(backend("b", nextMajor))))
                .isInstanceOf(PeftException.class).hasMessageContaining("backend");
    }

    @Test
    void twoTunersForOneTypeAreNamed() {
        assertThatThrownBy(() -> new PeftRegistry(List.of(new StubTuner("STUB", PeftApi.VERSION), new OtherStubTuner()),
                List.of()))
                .isInstanceOf(PeftException.class)
                .hasMessageContaining(StubTuner.class.getName())
                .hasMessageContaining(OtherStubTuner.class.getName());
    }

    @Test
    void aTunerKeyedUnderAnotherTypeIsRefused() {
        assertThatThrownBy(() -> PeftRegistry.of(Map.of("LORA", new StubTuner("STUB", PeftApi.VERSION)), List.of()))
                .isInstanceOf(PeftException.class)
                .hasMessageContaining("bound under peft_type 'LORA' but implements 'STUB'");
    }

    @Test
    void unknownTypesAndBackendsListWhatIsInstalled() {
        PeftRegistry r = new PeftRegistry(List.of(new StubTuner("STUB", PeftApi.VERSION)),
                List.of(backend("b", PeftApi.VERSION)));
        assertThatThrownBy(() -> r.tuner("LORA")).hasMessage("unknown peft_type 'LORA'; installed: [STUB]");
        assertThatThrownBy(() -> r.backend("tpu")).hasMessage("unknown backend 'tpu'; installed: [b]");
    }
}
