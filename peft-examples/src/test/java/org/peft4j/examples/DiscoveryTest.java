package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.inject.AbstractModule;
import com.google.inject.CreationException;
import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Key;
import com.google.inject.TypeLiteral;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.core.Peft;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.guice.PeftModule;
import org.peft4j.core.PeftRegistry;
import org.peft4j.api.tuner.Tuner;
import org.peft4j.lora.LoraConfig;
import org.peft4j.lora.LoraTuner;

/** The registry and the Guice module find what the classpath installs, and refuse what it does not. */
class DiscoveryTest {

    @Test
    void registryFindsEveryInstalledTunerAndBothBackends() {
        PeftRegistry registry = PeftRegistry.discover();
        assertThat(registry.tuners()).containsKey("LORA");
        assertThat(registry.tuner("lora")).isInstanceOf(LoraTuner.class);
        assertThat(registry.tuner("LORA").configClass()).isEqualTo(LoraConfig.class);
        assertThat(registry.backends()).containsKeys("djl", "nd4j");
    }

    @Test
    void unknownMethodOrBackendNamesWhatIsInstalled() {
        PeftRegistry registry = PeftRegistry.discover();
        assertThatThrownBy(() -> registry.tuner("LOHA")).isInstanceOf(PeftException.class)
                .hasMessageContaining("LOHA").hasMessageContaining("LORA");
        assertThatThrownBy(() -> registry.backend("tensorflow")).isInstanceOf(PeftException.class)
                .hasMessageContaining("tensorflow").hasMessageContaining("djl").hasMessageContaining("nd4j");
        assertThatThrownBy(() -> Guice.createInjector(new PeftModule("jax", registry)).getInstance(Backend.class))
                .hasRootCauseInstanceOf(PeftException.class).hasMessageContaining("jax").hasMessageContaining("djl");
    }

    @Test
    void twoProvidersClaimingOneTypeIsAnError() {
        assertThatThrownBy(() -> new PeftRegistry(List.of(new LoraTuner(), new LoraTuner()), List.of()))
                .isInstanceOf(PeftException.class).hasMessageContaining("LORA").hasMessageContaining("two tuners");
    }

    @Test
    void configIsParsedIntoTheClassItsPeftTypeNames() {
        PeftConfig c = PeftRegistry.discover().parseConfig("{\"peft_type\": \"LORA\", \"r\": 4, \"target_modules\": [\"q\"]}");
        assertThat(c).isInstanceOf(LoraConfig.class);
        assertThat(((LoraConfig) c).r()).isEqualTo(4);
        assertThatThrownBy(() -> PeftRegistry.discover().parseConfig("{\"peft_type\": \"NOPE\"}"))
                .isInstanceOf(PeftException.class).hasMessageContaining("NOPE").hasMessageContaining("LORA");
        assertThatThrownBy(() -> PeftRegistry.discover().parseConfig("{\"r\": 4}"))
                .isInstanceOf(PeftException.class).hasMessageContaining("peft_type");
    }

    @Test
    void guiceBindsTheNamedBackendAndEveryTuner() {
        for (String name : List.of("djl", "nd4j")) {
            Injector injector = Guice.createInjector(new PeftModule(name));
            try (Backend backend = injector.getInstance(Backend.class)) {
                assertThat(backend.name()).isEqualTo(name);
                assertThat(injector.getInstance(Backend.class)).isSameAs(backend);
            }
            Map<String, Tuner<?>> tuners = injector.getInstance(Key.get(new TypeLiteral<Map<String, Tuner<?>>>() { }));
            assertThat(tuners).containsKeys("LORA", "IA3", "BOTTLENECK", "PREFIX_TUNING", "PROMPT_TUNING", "P_TUNING");
            assertThat(tuners.get("LORA")).isInstanceOf(LoraTuner.class);
        }
    }

    @Test
    void systemPropertyChoosesTheBackend() {
        String old = System.getProperty(Peft.BACKEND_PROPERTY);
        try {
            System.setProperty(Peft.BACKEND_PROPERTY, "nd4j");
            try (Backend b = Guice.createInjector(PeftModule.fromSystemProperty()).getInstance(Backend.class)) {
                assertThat(b.name()).isEqualTo("nd4j");
            }
            System.clearProperty(Peft.BACKEND_PROPERTY);
            assertThat(Peft.defaultBackendName()).isEqualTo("djl");
        } finally {
            if (old == null) {
                System.clearProperty(Peft.BACKEND_PROPERTY);
            } else {
                System.setProperty(Peft.BACKEND_PROPERTY, old);
            }
        }
    }

    @Test
    void aSecondModuleAddingAnExistingPeftTypeFailsInjectorCreation() {
        AbstractModule extra = new AbstractModule() {
            @Override
            protected void configure() {
                PeftModule.tuners(binder()).addBinding("LORA").to(LoraTuner.class); // peft-lora's is discovered too
            }
        };
        assertThatThrownBy(() -> Guice.createInjector(new PeftModule("djl"), extra))
                .isInstanceOf(CreationException.class).hasMessageContaining("peft_type LORA is bound to 2 tuners")
                .hasMessageContaining(LoraTuner.class.getName());
    }
}
