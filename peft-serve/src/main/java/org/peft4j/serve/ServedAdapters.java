package org.peft4j.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.config.TaskType;
import org.peft4j.core.PeftModel;
import org.peft4j.core.PeftRegistry;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.core.io.HostTensor;
import org.peft4j.core.io.PeftJson;
import org.peft4j.core.tuner.RowAdapters;
import org.peft4j.models.bert.BertForSequenceClassification;
import org.peft4j.models.task.Classifiers;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The adapters a server answers for, all injected into one {@link PeftModel} so one forward pass
 * can serve many of them (mixed-adapter batches). A served name maps to an internal adapter name;
 * replacing an adapter loads the new weights under a fresh internal name, re-points the served name
 * and retires the old weights, which are deleted only when no admitted request still uses them
 * (requests in flight finish on the old weights). At most {@code maxLoaded} stay resident: the
 * least recently used is evicted and loaded again from its folder on the next request. Loading on
 * demand happens once per name however many requests ask for it at the same moment.
 *
 * <p>Classification heads are kept here, one per adapter, and applied on the host: in the model
 * they would be one shared module ({@code modules_to_save}), which cannot differ row by row.
 */
final class ServedAdapters {
    private static final Logger LOG = LoggerFactory.getLogger(ServedAdapters.class);
    private static final int MAX_LISTED_FOLDERS = 1000;

    /**
     * One adapter as served.
     *
     * @param name the name clients use
     * @param internal its name inside the {@link PeftModel} ({@link RowAdapters#BASE} for the base model)
     * @param peftType HF's {@code peft_type}, or null for the base model
     * @param taskType HF's {@code task_type}, or null
     * @param head the classification head, or null
     * @param source the folder it was loaded from, or null
     */
    record Served(String name, String internal, String peftType, String taskType, Head head, Path source,
            AtomicInteger users) {
    }

    /**
     * A classification head on the host: logits = weight x + bias, where x is the pooler's output
     * ({@code clsPooler}, HF's head) or the mean of the last hidden state.
     */
    record Head(float[] weight, float[] bias, int labels, int hidden, boolean clsPooler) {
        static Head of(HostTensor weight, HostTensor bias, boolean clsPooler) {
            return new Head(weight.data().clone(), bias.data().clone(), (int) weight.shape()[0], (int) weight.shape()[1],
                    clsPooler);
        }

        /** Class probabilities (softmax of the logits) for one pooled hidden state. */
        float[] probabilities(float[] pooled, int offset) {
            double[] logits = new double[labels];
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < labels; c++) {
                double z = bias[c];
                for (int j = 0; j < hidden; j++) {
                    z += (double) weight[c * hidden + j] * pooled[offset + j];
                }
                logits[c] = z;
                max = Math.max(max, z);
            }
            double sum = 0;
            for (int c = 0; c < labels; c++) {
                logits[c] = Math.exp(logits[c] - max);
                sum += logits[c];
            }
            float[] p = new float[labels];
            for (int c = 0; c < labels; c++) {
                p[c] = (float) (logits[c] / sum);
            }
            return p;
        }
    }

    /**
     * What {@code GET /v1/models} lists for one model.
     *
     * @param loaded whether its weights are resident now
     */
    record Listing(String id, String peftType, String taskType, boolean loaded) {
    }

    private final PeftModel peft;
    private final PeftRegistry registry;
    private final Served base;
    private final int hidden;
    /** Whether the encoder has a pooler, so heads read [CLS] -> pooler unless their adapter says mean. */
    private final boolean hasPooler;
    /** Renames an adapter saved on the inner base model (BertModel naming) for the served task model. */
    private final java.util.function.UnaryOperator<AdapterFiles.Loaded> naming;
    private final int maxLoaded;
    private final Path root;
    private final Path realRoot;
    private final Metrics metrics;
    /** Resident adapters by served name, least recently used first. */
    private final LinkedHashMap<String, Served> loaded = new LinkedHashMap<>(16, 0.75f, true);
    /** Folders of adapters known by name (given at start or loaded since), resident or not. */
    private final Map<String, Path> known = new TreeMap<>();
    private final Map<String, CompletableFuture<Served>> loading = new LinkedHashMap<>();
    private final List<Served> retired = new ArrayList<>();
    private final AtomicLong nextId = new AtomicLong();

    /**
     * @param peft the model every adapter is injected into
     * @param baseId the id clients use for the base model
     * @param baseHead the base model's own classification head, or null
     * @param hidden the encoder's hidden size (a head must read it)
     * @param hasPooler whether the encoder has a pooler (HF's head reads it)
     * @param adapterDir the only folder run-time loading reads, or null to refuse run-time loading
     */
    ServedAdapters(PeftModel peft, PeftRegistry registry, String baseId, Head baseHead, int hidden, boolean hasPooler,
            java.util.function.UnaryOperator<AdapterFiles.Loaded> naming, int maxLoaded, Path adapterDir, Metrics metrics) {
        this.peft = peft;
        this.naming = naming;
        this.hasPooler = hasPooler;
        this.registry = registry;
        this.base = new Served(baseId, RowAdapters.BASE, null, null, baseHead, null, new AtomicInteger());
        this.hidden = hidden;
        this.maxLoaded = maxLoaded;
        this.metrics = metrics;
        if (adapterDir == null) {
            this.root = null;
            this.realRoot = null;
        } else {
            if (!Files.isDirectory(adapterDir)) {
                throw new PeftException("adapter dir " + adapterDir + " is not a folder");
            }
            this.root = adapterDir.toAbsolutePath().normalize();
            try {
                this.realRoot = root.toRealPath();
            } catch (IOException e) {
                throw new PeftException("cannot resolve adapter dir " + adapterDir + ": " + e.getMessage(), e);
            }
        }
    }

    /** The base model's id. */
    String baseId() {
        return base.name();
    }

    /**
     * The adapter (or the base model) a request names, loading it first when it is known or a folder
     * under the adapter dir; the caller {@link #release}s it when its rows are done. Unknown names
     * fail with 404 listing what is available; names leading out of the adapter dir with 403.
     */
    Served acquire(String model) {
        if (model.equals(base.name())) {
            return base;
        }
        for (int attempt = 0; attempt < 8; attempt++) {
            CompletableFuture<Served> pending;
            boolean mine = false;
            Path source;
            synchronized (this) {
                Served s = loaded.get(model);
                if (s != null) {
                    s.users().incrementAndGet();
                    return s;
                }
                source = known.get(model);
                pending = loading.get(model);
                if (pending == null) {
                    if (source == null) {
                        source = folderFor(model);
                    }
                    pending = new CompletableFuture<>();
                    loading.put(model, pending);
                    mine = true;
                }
            }
            if (mine) {
                try {
                    pending.complete(install(model, load(model, source)));
                } catch (RuntimeException e) {
                    pending.completeExceptionally(e);
                } finally {
                    synchronized (this) {
                        loading.remove(model);
                    }
                }
            }
            try {
                pending.join();
            } catch (CompletionException e) {
                throw e.getCause() instanceof RuntimeException r ? r : e;
            }
            // loop: take a use of it under the lock (it may have been evicted or replaced meanwhile)
        }
        throw new ApiError(503, "server_error", "adapter_churn", "adapter '" + model
                + "' was evicted again before it could be used; raise --max-loaded");
    }

    /** Ends a use taken by {@link #acquire}. */
    void release(Served s) {
        s.users().decrementAndGet();
    }

    /** The folder under the adapter dir that {@code model} names, or 404 / 403. */
    private Path folderFor(String model) {
        if (root != null && !model.isEmpty()) {
            Path dir = insideRoot(model);
            if (Files.isRegularFile(dir.resolve(AdapterFiles.CONFIG_FILE))) {
                return dir;
            }
        }
        throw ApiError.notFound("model_not_found", "model '" + model + "' does not exist; available: " + available());
    }

    /**
     * Loads (or replaces: a hot swap) adapter {@code name} from {@code path}, which must lie inside
     * the adapter dir. A folder that fails to load leaves the adapter served before untouched.
     */
    Served put(String name, String path) {
        checkName(name);
        if (root == null) {
            throw ApiError.forbidden("loading adapters at run time is off; start the server with --adapter-dir ROOT");
        }
        Path dir = insideRoot(path);
        return install(name, load(name, dir));
    }

    /** Loads an adapter given at start-up (any folder the operator names). */
    Served preload(String name, Path dir) {
        checkName(name);
        return install(name, load(name, dir));
    }

    /** Stops serving {@code name}; its weights go once no admitted request uses them. */
    void remove(String name) {
        synchronized (this) {
            Served s = loaded.remove(name);
            boolean wasKnown = known.remove(name) != null;
            if (s == null && !wasKnown) {
                throw ApiError.notFound("adapter_not_found", "adapter '" + name + "' is not loaded; loaded: "
                        + loaded.keySet());
            }
            if (s != null) {
                retired.add(s);
            }
        }
        LOG.info("adapter '{}' removed", name);
    }

    /**
     * Deletes retired adapters nobody uses any more. Called by the one thread that runs forward
     * passes, between passes, so no pass can meet a deleted adapter.
     */
    void reap() {
        List<Served> gone = new ArrayList<>();
        synchronized (this) {
            for (Iterator<Served> it = retired.iterator(); it.hasNext(); ) {
                Served s = it.next();
                if (s.users().get() == 0) {
                    gone.add(s);
                    it.remove();
                }
            }
            metrics.adaptersLoaded(loaded.size());
        }
        for (Served s : gone) {
            peft.deleteAdapter(s.internal());
        }
    }

    /** Every model a client may name: the base, the adapters known by name, the folders under the adapter dir. */
    List<Listing> list() {
        Map<String, Listing> out = new LinkedHashMap<>();
        out.put(base.name(), new Listing(base.name(), null, null, true));
        Map<String, Path> folders;
        synchronized (this) {
            loaded.values().forEach(s -> out.put(s.name(), new Listing(s.name(), s.peftType(), s.taskType(), true)));
            folders = new TreeMap<>(known);
        }
        if (root != null) {
            try (Stream<Path> children = Files.list(realRoot)) {
                children.limit(MAX_LISTED_FOLDERS)
                        .filter(p -> Files.isRegularFile(p.resolve(AdapterFiles.CONFIG_FILE)))
                        .forEach(p -> folders.putIfAbsent(p.getFileName().toString(), p));
            } catch (IOException e) {
                LOG.warn("cannot list adapter dir {}: {}", realRoot, e.getMessage());
            }
        }
        folders.forEach((name, dir) -> out.computeIfAbsent(name, n -> {
            JsonNode config = peekConfig(dir);
            return new Listing(n, text(config, "peft_type"), text(config, "task_type"), false);
        }));
        return new ArrayList<>(out.values());
    }

    private String available() {
        List<String> names = new ArrayList<>();
        list().forEach(l -> names.add(l.id()));
        return names.toString();
    }

    /** {@code path} resolved inside the adapter dir, or 403 when it leads out (by {@code ..}, an absolute path or a link). */
    private Path insideRoot(String path) {
        Path p;
        try {
            p = Path.of(path);
        } catch (InvalidPathException e) {
            throw ApiError.badRequest("adapter path '" + path + "' is not a valid path: " + e.getReason());
        }
        Path candidate = (p.isAbsolute() ? p : root.resolve(p)).normalize();
        if (!candidate.startsWith(root) && !candidate.startsWith(realRoot)) {
            throw ApiError.forbidden("adapter path '" + path + "' is outside the adapter dir; only folders under it load");
        }
        if (!Files.exists(candidate)) {
            return candidate;
        }
        try {
            Path real = candidate.toRealPath();
            if (!real.startsWith(realRoot)) {
                throw ApiError.forbidden("adapter path '" + path + "' leads outside the adapter dir through a link");
            }
            return real;
        } catch (IOException e) {
            throw ApiError.badRequest("cannot resolve adapter path '" + path + "': " + e.getMessage());
        }
    }

    private void checkName(String name) {
        if (name == null || name.isBlank() || name.length() > 200) {
            throw ApiError.badRequest("adapter name must be 1 to 200 characters, got '" + name + "'");
        }
        if (name.equals(base.name())) {
            throw ApiError.badRequest("'" + name + "' is the base model's id; pick another adapter name");
        }
    }

    /** Makes {@code s} the adapter served as {@code name}, retiring the one it replaces and the least recently used beyond the limit. */
    private Served install(String name, Served s) {
        synchronized (this) {
            Served old = loaded.put(name, s);
            if (old != null) {
                retired.add(old);
            }
            known.put(name, s.source());
            for (Iterator<Map.Entry<String, Served>> it = loaded.entrySet().iterator();
                    loaded.size() > maxLoaded && it.hasNext(); ) {
                Map.Entry<String, Served> eldest = it.next();
                if (!eldest.getKey().equals(name)) {
                    it.remove();
                    retired.add(eldest.getValue());
                    metrics.eviction();
                    LOG.debug("adapter '{}' evicted (more than {} loaded)", eldest.getKey(), maxLoaded);
                }
            }
            metrics.adaptersLoaded(loaded.size());
        }
        return s;
    }

    /** Reads, checks and injects an adapter folder under a fresh internal name; nothing is served by it yet. */
    private Served load(String name, Path dir) {
        if (!Files.isRegularFile(dir.resolve(AdapterFiles.CONFIG_FILE))) {
            throw new PeftException("'" + dir.getFileName() + "' is not an adapter folder (no " + AdapterFiles.CONFIG_FILE + ")");
        }
        PeftConfig config = AdapterFiles.readConfig(dir, registry);
        if (!registry.tuner(config.peftType()).supportsMixedBatches()) {
            List<String> mixable = registry.tuners().entrySet().stream()
                    .filter(e -> e.getValue().supportsMixedBatches()).map(Map.Entry::getKey).toList();
            throw new PeftException("adapter '" + name + "' is " + config.peftType() + ", whose rows cannot share a batch "
                    + "with other adapters; the server serves " + mixable);
        }
        for (String module : config.modulesToSave()) {
            if (!module.equals("classifier") && !module.equals("score")) {
                throw new PeftException("adapter '" + name + "' trains module '" + module + "' in full (modules_to_save); "
                        + "the server keeps per-adapter copies of the classification head ('classifier') only");
            }
        }
        // the file's header against the budget before its data is read (PeftModel checks the layout again)
        long elements = 0;
        for (long[] shape : AdapterFiles.readShapes(dir).values()) {
            long n = Tensor.numel(shape);
            elements = elements > Long.MAX_VALUE - n ? Long.MAX_VALUE : elements + n;
        }
        if (elements > peft.adapterBudget()) {
            throw new PeftException("adapter '" + name + "' holds " + elements + " elements, over the budget of "
                    + peft.adapterBudget());
        }
        AdapterFiles.Loaded files = naming.apply(new AdapterFiles.Loaded(config, AdapterFiles.readTensors(dir)));
        Classifiers.Head head = Classifiers.head(files);
        BertForSequenceClassification.Pooling pooling = Classifiers.pooling(files);
        boolean clsPooler = pooling == null ? hasPooler : pooling == BertForSequenceClassification.Pooling.CLS_POOLER;
        if (head != null && clsPooler && !hasPooler) {
            throw new PeftException("adapter '" + name + "' has a classifier on [CLS] -> pooler, and the model has no pooler");
        }
        if (head != null && head.weight().shape()[1] != hidden) {
            throw new PeftException("adapter '" + name + "' has a classification head for hidden size "
                    + head.weight().shape()[1] + "; the model's is " + hidden);
        }
        Map<String, HostTensor> layers = new LinkedHashMap<>(files.tensors());
        layers.keySet().removeIf(Classifiers::isHeadTensor);
        String internal = "s" + nextId.incrementAndGet();
        peft.loadAdapter(internal, new AdapterFiles.Loaded(withoutModulesToSave(config), layers));
        metrics.adapterLoad();
        LOG.info("adapter '{}' loaded from {} ({})", name, dir, config.peftType());
        return new Served(name, internal, config.peftType(),
                config.taskType() == null ? null : config.taskType().name(),
                head == null ? null : Head.of(head.weight(), head.bias(), clsPooler), dir, new AtomicInteger());
    }

    /**
     * The config as the shared model takes it: the head stays with the server (so neither the
     * listed modules nor the head SEQ_CLS implies are injected).
     */
    private PeftConfig withoutModulesToSave(PeftConfig config) {
        if (config.modulesToSave().isEmpty() && config.taskType() != TaskType.SEQ_CLS) {
            return config;
        }
        ObjectNode json = PeftJson.parseObject(PeftJson.write(config));
        json.putArray("modules_to_save");
        json.putNull("task_type");
        return registry.parseConfig(json.toString());
    }

    private static JsonNode peekConfig(Path dir) {
        try {
            if (Files.size(dir.resolve(AdapterFiles.CONFIG_FILE)) > 1 << 20) {
                return null;
            }
            return PeftJson.mapper().readTree(dir.resolve(AdapterFiles.CONFIG_FILE).toFile());
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static String text(JsonNode node, String key) {
        return node == null || !node.path(key).isTextual() ? null : node.path(key).asText();
    }
}
