package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.core.Peft;
import org.peft4j.api.PeftException;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Functional;
import org.peft4j.train.Checkpoints;
import org.peft4j.train.LrSchedule;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingOptions;
import org.peft4j.lora.LoraConfig;
import org.peft4j.testkit.Reference;
import org.peft4j.testkit.TinyMlp;

/** A run interrupted after a checkpoint and resumed ends with the weights of an uninterrupted run. */
class CheckpointResumeTest {
    private static final int IN = 8;
    private static final int BATCHES = 6;

    @TempDir
    Path tmp;

    private static PeftModel model(Backend b) {
        PeftModel m = new PeftModel(new TinyMlp(b, IN, 16, 2, 1), Peft.registry(), 5);
        // dropout on: the resumed run must draw the same masks
        m.addAdapter("default", LoraConfig.builder().r(4).loraAlpha(8).loraDropout(0.2f).targetModules("fc1", "fc2")
                .modulesToSave("classifier").build());
        return m;
    }

    private static Map<String, float[]> train(Backend b, Checkpoints checkpoints, int failAfterStep) {
        PeftModel m = model(b);
        TinyMlp net = (TinyMlp) m.model();
        float[] x = Reference.randoms(BATCHES * 4 * IN, 21);
        TrainingOptions options = new TrainingOptions(2, 0, 5e-3f, 0.01f, 0.1f, LrSchedule.COSINE, 1f, 1, 7, 1);
        Trainer<Integer> trainer = new Trainer<>(net, options, checkpoints);
        try {
            trainer.train(epoch -> {
                List<Integer> order = new ArrayList<>(List.of(0, 1, 2, 3, 4, 5));
                java.util.Collections.rotate(order, epoch);
                return order;
            }, i -> {
                Tensor batch = b.fromFloats(java.util.Arrays.copyOfRange(x, i * 4 * IN, (i + 1) * 4 * IN), 4, IN);
                return Functional.crossEntropy(net.forward(batch), new long[] {0, 1, i % 2, 1});
            }, i -> 4, (step, total, loss, lr, examples) -> {
                if (step == failAfterStep) {
                    throw new PeftException("simulated crash after step " + step);
                }
            });
        } catch (PeftException e) {
            if (!e.getMessage().startsWith("simulated")) {
                throw e;
            }
            return null;
        }
        Map<String, float[]> out = new LinkedHashMap<>();
        m.model().trainableParameters().forEach((k, p) -> out.put(k, p.value().toFloatArray()));
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void resumingFromACheckpointReproducesTheUninterruptedRun(String name) throws Exception {
        try (Backend b = Peft.backend(name)) {
            Map<String, float[]> straight = train(b, null, -1);
            Path dir = tmp.resolve(name);
            // 12 steps in all; checkpoints at 4 and 8; the crash comes after step 9
            assertThat(train(b, Checkpoints.every(dir, 4), 9)).isNull();
            try (Stream<Path> files = Files.list(dir)) {
                assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("checkpoint-4",
                        "checkpoint-8");
            }
            Map<String, float[]> resumed = train(b, Checkpoints.every(dir, 4), -1);
            assertThat(resumed.keySet()).isEqualTo(straight.keySet());
            straight.forEach((k, v) -> assertThat(Reference.maxAbsDiff(resumed.get(k), v)).as(k).isLessThan(1e-6f));

            // a checkpoint of another model is refused, naming the parameters
            Files.createDirectories(tmp.resolve("other"));
            Files.move(dir.resolve("checkpoint-8"), tmp.resolve("other").resolve("checkpoint-8"));
            PeftModel different = new PeftModel(new TinyMlp(b, IN, 16, 2, 1), Peft.registry(), 5);
            different.addAdapter("default", LoraConfig.builder().r(2).targetModules("fc1").build());
            Trainer<Integer> t = new Trainer<>(different.model(), TrainingOptions.defaults(),
                    Checkpoints.every(tmp.resolve("other"), 4));
            assertThatThrownBy(() -> t.train(e -> List.of(0), i -> null, i -> 1, (s, tot, l, lr, ex) -> { }))
                    .isInstanceOf(PeftException.class).hasMessageContaining("fc2.lora_A.default.weight");
        }
    }
}
