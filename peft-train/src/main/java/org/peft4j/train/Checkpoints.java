package org.peft4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;
import org.peft4j.core.io.PeftJson;
import org.peft4j.core.io.AtomicFiles;
import org.peft4j.core.io.HostTensor;
import org.peft4j.core.io.Safetensors;
import org.peft4j.train.AdamW;

/**
 * Training checkpoints in a folder: {@code checkpoint-<step>/} holding the trainable parameters
 * ({@value #PARAMS}), the optimizer's moments ({@value #OPTIMIZER}) and where training stood
 * ({@value #STATE}, written last, so a checkpoint without it is incomplete and ignored). The
 * newest {@link #keep} checkpoints are kept.
 *
 * @param dir the folder
 * @param every save after every this many optimizer steps
 * @param keep how many checkpoints to keep (at least 1)
 */
public record Checkpoints(Path dir, int every, int keep) {
    static final String PARAMS = "trainable.safetensors";
    static final String OPTIMIZER = "optimizer.safetensors";
    static final String STATE = "trainer_state.json";
    private static final String PREFIX = "checkpoint-";

    public Checkpoints {
        if (dir == null || every <= 0 || keep <= 0) {
            throw new PeftException("checkpoints need a folder, a positive interval and keep >= 1; got " + dir + ", "
                    + every + ", " + keep);
        }
    }

    /** Checkpoints every {@code every} steps into {@code dir}, keeping the newest two. */
    public static Checkpoints every(Path dir, int every) {
        return new Checkpoints(dir, every, 2);
    }

    /**
     * Where training stood when a checkpoint was written.
     *
     * @param step optimizer steps done
     * @param epoch epoch of the next step
     * @param batch index of the next step's first micro-batch within the epoch
     * @param examples examples seen
     * @param skipped steps skipped for non-finite gradients
     * @param firstLoss loss of the first step
     */
    record Position(int step, int epoch, int batch, long examples, int skipped, float firstLoss) {
    }

    /** A loaded checkpoint. */
    record Loaded(Position position, Map<String, HostTensor> params, Map<String, HostTensor> optimizer, int optimizerSteps) {
    }

    void save(Position at, Map<String, Parameter> params, AdamW optimizer) {
        Map<String, HostTensor> values = new LinkedHashMap<>();
        params.forEach((k, p) -> values.put(k, HostTensor.of(p.value())));
        Map<String, HostTensor> moments = new LinkedHashMap<>();
        List<String> names = new ArrayList<>(params.keySet());
        List<Tensor> m = optimizer.firstMoments();
        List<Tensor> v = optimizer.secondMoments();
        for (int i = 0; i < names.size(); i++) {
            moments.put("exp_avg." + names.get(i), HostTensor.of(m.get(i)));
            moments.put("exp_avg_sq." + names.get(i), HostTensor.of(v.get(i)));
        }
        ObjectNode state = PeftJson.mapper().createObjectNode();
        state.put("global_step", at.step()).put("epoch", at.epoch()).put("batch", at.batch())
                .put("examples", at.examples()).put("skipped_steps", at.skipped()).put("first_loss", at.firstLoss())
                .put("optimizer_steps", optimizer.steps());
        Path target = dir.resolve(PREFIX + at.step());
        Map<Path, byte[]> files = new LinkedHashMap<>();
        files.put(target.resolve(PARAMS), Safetensors.toBytes(values, Map.of("format", "pt")));
        files.put(target.resolve(OPTIMIZER), Safetensors.toBytes(moments, Map.of("format", "pt")));
        files.put(target.resolve(STATE), (state.toPrettyString() + "\n").getBytes(StandardCharsets.UTF_8));
        AtomicFiles.writeAll(files);
        prune();
    }

    private void prune() {
        List<Path> all = complete();
        for (int i = 0; i + keep < all.size(); i++) {
            Path old = all.get(i);
            try (Stream<Path> files = Files.list(old)) {
                for (Path f : files.toList()) {
                    Files.deleteIfExists(f);
                }
                Files.deleteIfExists(old);
            } catch (IOException e) {
                throw new PeftException("cannot delete old checkpoint " + old + ": " + e.getMessage(), e);
            }
        }
    }

    /** Complete checkpoints, oldest first. */
    private List<Path> complete() {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.filter(p -> p.getFileName().toString().matches(PREFIX + "\\d+"))
                    .filter(p -> Files.isRegularFile(p.resolve(STATE)))
                    .sorted(Comparator.comparingLong(p -> Long.parseLong(p.getFileName().toString().substring(PREFIX.length()))))
                    .toList();
        } catch (IOException e) {
            throw new PeftException("cannot list checkpoints in " + dir + ": " + e.getMessage(), e);
        }
    }

    /** The newest complete checkpoint, if any. */
    Optional<Loaded> latest() {
        List<Path> all = complete();
        if (all.isEmpty()) {
            return Optional.empty();
        }
        Path p = all.get(all.size() - 1);
        JsonNode s;
        try {
            s = PeftJson.mapper().readTree(Files.readString(p.resolve(STATE), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new PeftException("cannot read " + p.resolve(STATE) + ": " + e.getMessage(), e);
        }
        for (String key : List.of("global_step", "epoch", "batch", "examples", "optimizer_steps")) {
            if (s == null || !s.path(key).canConvertToLong()) {
                throw new PeftException(p.resolve(STATE) + " has no integer \"" + key + "\"");
            }
        }
        Position at = new Position(s.get("global_step").asInt(), s.get("epoch").asInt(), s.get("batch").asInt(),
                s.get("examples").asLong(), s.path("skipped_steps").asInt(), (float) s.path("first_loss").asDouble());
        return Optional.of(new Loaded(at, Safetensors.read(p.resolve(PARAMS)), Safetensors.read(p.resolve(OPTIMIZER)),
                s.get("optimizer_steps").asInt()));
    }

    /** Sets the parameters and optimizer from a checkpoint, after checking every name and shape. */
    static void restore(Loaded c, Map<String, Parameter> params, AdamW optimizer) {
        if (!c.params().keySet().equals(params.keySet())) {
            throw new PeftException("checkpoint at step " + c.position().step() + " holds parameters "
                    + c.params().keySet() + ", the model trains " + params.keySet());
        }
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            long[] want = e.getValue().value().shape();
            long[] got = c.params().get(e.getKey()).shape();
            if (!java.util.Arrays.equals(want, got)) {
                throw new PeftException("checkpoint parameter " + e.getKey() + " has shape " + java.util.Arrays.toString(got)
                        + ", the model's has " + java.util.Arrays.toString(want));
            }
        }
        Backend backend = params.values().iterator().next().value().backend();
        List<Tensor> m = new ArrayList<>();
        List<Tensor> v = new ArrayList<>();
        for (String name : params.keySet()) {
            HostTensor first = c.optimizer().get("exp_avg." + name);
            HostTensor second = c.optimizer().get("exp_avg_sq." + name);
            if (first == null || second == null) {
                throw new PeftException("checkpoint optimizer state has no moments for " + name);
            }
            m.add(first.to(backend));
            v.add(second.to(backend));
        }
        params.forEach((name, p) -> p.set(c.params().get(name).to(backend)));
        optimizer.restore(c.optimizerSteps(), m, v);
    }
}
