package org.peft4j.guice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.inject.CreationException;
import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.ProvisionException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Gradients;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Functional;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.Module;
import org.peft4j.api.tuner.TargetSelector;
import org.peft4j.api.tuner.TargetSpec;
import org.peft4j.core.PeftModel;
import org.peft4j.core.PeftModelFactory;
import org.peft4j.core.PeftRegistry;
import org.peft4j.core.tuner.StandardTargetSelector;
import org.peft4j.testkit.Reference;
import org.peft4j.testkit.TinyMlp;
import org.peft4j.train.AdamW;

/** Guice wires what models use: tuners, the target selector and the backend come from the injector. */
class PeftModuleTest {
    private static final String JSON = "{\"peft_type\": \"OUTPUT_SCALE\", \"target_modules\": [\"fc1\", \"fc2\"]}";
    private static final long[] LABELS = {0, 1, 1, 0, 1, 0};

    @TempDir
    Path dir;

    private static Injector injector(String backend, com.google.inject.Module user) {
        return Guice.createInjector(new PeftModule(backend), user);
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void aTunerBoundOnlyInGuiceTrainsSavesAndLoads(String backendName) {
        assertThat(PeftRegistry.discover().tuners()).doesNotContainKey(OutputScaleMethod.TYPE); // no service file
        Injector injector = injector(backendName,
                binder -> PeftModule.tuners(binder).addBinding(OutputScaleMethod.TYPE).to(OutputScaleMethod.Tuner.class));
        PeftModelFactory factory = injector.getInstance(PeftModelFactory.class);
        float[] xs = Reference.randoms(6 * 8, 4);
        float[] trained;
        try (Backend b = injector.getInstance(Backend.class)) {
            assertThat(factory.backend()).isSameAs(b);
            assertThat(b.name()).isEqualTo(backendName);
            TinyMlp net = new TinyMlp(b, 8, 16, 2, 1);
            Tensor x = b.keep(b.fromFloats(xs, 6, 8));
            float[] base = net.forward(x).toFloatArray();
            float[] fc1Before = net.find("fc1").parameters().get("weight").value().toFloatArray();
            PeftModel model = factory.create(net, 3);
            model.addAdapter("default", factory.parseConfig(JSON));
            assertThat(net.find("fc1")).isInstanceOf(OutputScaleMethod.Layer.class);
            assertThat(net.forward(x).toFloatArray()).containsExactly(base); // scales start at one
            assertThat(model.parameterCount().trainable()).isEqualTo(16 + 16);

            AdamW opt = new AdamW(model.trainableParameters(), new AdamW.Options(0.9f, 0.999f, 1e-8f, 0f));
            try (Scope s = b.scope()) {
                Gradients g = b.gradients(opt.parameters(), () -> Functional.crossEntropy(net.forward(x), LABELS));
                opt.step(g, 1e-1f);
            }
            trained = net.forward(x).toFloatArray();
            assertThat(Reference.maxAbsDiff(trained, base)).isGreaterThan(1e-3f);
            assertThat(net.find("fc1.base_layer").parameters().get("weight").value().toFloatArray())
                    .containsExactly(fc1Before); // the base stays frozen
            model.save(dir, "default");

            TinyMlp fresh = new TinyMlp(b, 8, 16, 2, 1);
            PeftModel reloaded = factory.create(fresh, 99);
            reloaded.loadAdapter("default", factory.readAdapter(dir));
            assertThat(reloaded.adapterState("default")).containsOnlyKeys(
                    "base_model.model.fc1.output_scale", "base_model.model.fc2.output_scale");
            assertThat(Reference.maxAbsDiff(fresh.forward(x).toFloatArray(), trained)).isLessThan(1e-6f);
        }
    }

    @Test
    void aTargetSelectorBoundInGuiceIsTheOneUsed() {
        List<String> asked = new ArrayList<>();
        TargetSelector firstOnly = new TargetSelector() {
            @Override
            public List<String> select(Module model, TargetSpec spec, Predicate<Module> eligible) {
                List<String> all = new StandardTargetSelector().select(model, spec, eligible);
                asked.addAll(all);
                return all.subList(0, 1);
            }
        };
        Injector injector = injector("djl", binder -> {
            PeftModule.tuners(binder).addBinding(OutputScaleMethod.TYPE).to(OutputScaleMethod.Tuner.class);
            PeftModule.targetSelector(binder).setBinding().toInstance(firstOnly);
        });
        PeftModelFactory factory = injector.getInstance(PeftModelFactory.class);
        assertThat(factory.selector()).isSameAs(firstOnly);
        try (Backend b = injector.getInstance(Backend.class)) {
            TinyMlp net = new TinyMlp(b, 8, 16, 2, 1);
            factory.create(net, 3).addAdapter("default", factory.parseConfig(JSON));
            assertThat(asked).isNotEmpty().containsOnly("fc1", "fc2"); // asked when planning sizes and when injecting
            assertThat(net.find("fc1")).isInstanceOf(OutputScaleMethod.Layer.class);
            assertThat(net.find("fc2")).isInstanceOf(Linear.class); // the custom selector left it out
        }
    }

    @Test
    void withoutABindingTheStandardSelectorIsUsed() {
        Injector injector = Guice.createInjector(new PeftModule("djl"));
        assertThat(injector.getInstance(TargetSelector.class)).isInstanceOf(StandardTargetSelector.class);
    }

    @Test
    void twoTunersForOnePeftTypeFailInjectorCreationNamingBoth() {
        assertThatThrownBy(() -> injector("djl", binder -> {
            PeftModule.tuners(binder).addBinding(OutputScaleMethod.TYPE).to(OutputScaleMethod.Tuner.class);
            PeftModule.tuners(binder).addBinding(OutputScaleMethod.TYPE).to(OutputScaleMethod.Rival.class);
        })).isInstanceOf(CreationException.class)
                .hasMessageContaining(OutputScaleMethod.TYPE)
                .hasMessageContaining("OutputScaleMethod$Tuner")
                .hasMessageContaining("OutputScaleMethod$Rival");
    }

    @Test
    void aTunerBoundUnderAnotherPeftTypeIsRefused() {
        Injector injector = injector("djl",
                binder -> PeftModule.tuners(binder).addBinding("SOMETHING_ELSE").to(OutputScaleMethod.Tuner.class));
        assertThatThrownBy(() -> injector.getInstance(PeftModelFactory.class))
                .isInstanceOf(ProvisionException.class)
                .hasRootCauseInstanceOf(PeftException.class)
                .hasMessageContaining("bound under peft_type 'SOMETHING_ELSE' but implements 'OUTPUT_SCALE'");
    }

    @Test
    void anUnknownBackendNamesTheInstalledOnes() {
        Injector injector = Guice.createInjector(new PeftModule("tpu"));
        assertThatThrownBy(() -> injector.getInstance(Backend.class))
                .hasRootCauseInstanceOf(PeftException.class)
                .hasMessageContaining("unknown backend 'tpu'; installed: [djl, nd4j]");
    }
}
