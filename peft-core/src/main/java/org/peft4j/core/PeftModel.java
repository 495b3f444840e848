package org.peft4j.core;

import org.peft4j.api.PeftException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.core.io.HostTensor;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.nn.Init;
import org.peft4j.api.nn.Module;
import org.peft4j.core.tuner.RowAdapters;
import org.peft4j.core.PeftRegistry;
import org.peft4j.api.tuner.TargetSelector;
import org.peft4j.api.tuner.Tuner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.peft4j.api.tuner.TunerContext;
import org.peft4j.core.tuner.StandardTargetSelector;

/**
 * A base model with PEFT adapters injected, HF PEFT's {@code PeftModel}: the base weights are
 * frozen, each adapter is injected by the tuner its config's {@code peft_type} names, and only
 * adapter parameters (plus {@code modules_to_save}) train.
 *
 * <p>Serving threads run forward passes inside {@link #infer} (or {@link #withRowAdapters}); the
 * operations that change adapters (add, load, set, delete, merge, disable) wait for running
 * passes and block new ones, so every pass sees one consistent adapter state. Training is
 * single-threaded.
 */
public final class PeftModel {
    private static final Logger LOG = LoggerFactory.getLogger(PeftModel.class);
    private final Module model;
    private final PeftRegistry registry;
    private final TunerContext context;
    private final Map<String, PeftConfig> adapters = new LinkedHashMap<>();
    private final Set<String> active = new LinkedHashSet<>();
    private final Set<String> merged = new LinkedHashSet<>();
    private volatile long adapterBudget;
    /** Forward passes share it; anything that changes the adapters takes it alone. */
    private final java.util.concurrent.locks.ReentrantReadWriteLock lock =
            new java.util.concurrent.locks.ReentrantReadWriteLock();

    /**
     * Wraps {@code model}, freezing all its current parameters.
     *
     * @param seed seeds adapter initialisation, so a seed gives the same adapter on every backend
     */
    public PeftModel(Module model, PeftRegistry registry, long seed) {
        this(model, registry, seed, null);
    }

    /**
     * Wraps {@code model} with its tokenizer, which methods initialised from text use (prompt
     * tuning with {@code prompt_tuning_init: TEXT}).
     *
     * @param tokenizer text to token ids, special tokens included; may be null
     */
    public PeftModel(Module model, PeftRegistry registry, long seed, java.util.function.Function<String, long[]> tokenizer) {
        this(model, registry, new StandardTargetSelector(), seed, tokenizer);
    }

    /**
     * Wraps {@code model} with every collaborator given: {@link PeftModelFactory} (and so Guice)
     * builds models this way.
     *
     * @param registry the tuners adapters may use, by {@code peft_type}
     * @param selector turns configs' {@code target_modules} into module paths
     * @param tokenizer text to token ids, special tokens included; may be null
     */
    public PeftModel(Module model, PeftRegistry registry, TargetSelector selector, long seed,
            java.util.function.Function<String, long[]> tokenizer) {
        this.model = model;
        this.registry = registry;
        this.context = new TunerContext(model.backend(), selector, new Init(seed), tokenizer);
        model.setTrainable(false);
        long size = 0;
        for (Parameter p : model.namedParameters().values()) {
            size += p.numel();
        }
        this.adapterBudget = Math.max(size, 1);
    }

    /**
     * Caps the elements one adapter's tensors may hold; by default the base model's own size. An
     * adapter over it is refused before anything is made, naming both sizes, so a config asking
     * for absurd sizes (or a hostile adapter file) costs nothing.
     */
    public void setAdapterBudget(long maxElements) {
        if (maxElements <= 0) {
            throw new PeftException("the adapter budget must be a positive number of elements, got " + maxElements);
        }
        this.adapterBudget = maxElements;
    }

    /** The most elements one adapter's tensors may hold (see {@link #setAdapterBudget}). */
    public long adapterBudget() {
        return adapterBudget;
    }

    /** The model, with adapters in its module tree. */
    public Module model() {
        return model;
    }

    /** Adapter configs by name, in the order added; unmodifiable. */
    public Map<String, PeftConfig> adapters() {
        return infer(() -> Collections.unmodifiableMap(new LinkedHashMap<>(adapters)));
    }

    /**
     * Injects a new adapter called {@code name} as its config says; its parameters are trainable.
     * As in HF PEFT, the first adapter becomes active and later ones are added inactive until
     * {@link #setAdapter} selects them.
     */
    public void addAdapter(String name, PeftConfig config) {
        exclusive(() -> add(name, config, true));
    }

    /**
     * {@link #addAdapter} under the caller's exclusive section; {@code planBudget}: false when the
     * caller has already checked the planned tensors against the budget.
     */
    private void add(String name, PeftConfig config, boolean planBudget) {
        if (name == null || name.isEmpty() || name.contains(".") || name.equals(RowAdapters.BASE)) {
            throw new PeftException("adapter name must be non-empty, without '.' and not " + RowAdapters.BASE
                    + ", got '" + name + "'");
        }
        if (adapters.containsKey(name)) {
            throw new PeftException("adapter '" + name + "' already exists; adapters: " + adapters.keySet());
        }
        Tuner<?> tuner = registry.tuner(config.peftType());
        List<String> saved = modulesToSave(config, true); // nothing to save fails here, before anything is injected
        Map<String, long[]> planned = planBudget ? plannedState(tuner, config) : null;
        if (planned != null) {
            checkBudget(name, tuner, config, planned);
        }
        inject(tuner, config, name);
        for (String path : saved) {
            model.find(path).setTrainable(true);
        }
        adapters.put(name, config);
        if (active.isEmpty()) {
            active.add(name);
        } else {
            tuner.setActive(model, name, false);
        }
    }

    private <C extends PeftConfig> void inject(Tuner<C> tuner, PeftConfig config, String name) {
        tuner.inject(model, typed(tuner, config), name, context);
    }

    private static <C extends PeftConfig> C typed(Tuner<C> tuner, PeftConfig config) {
        if (!tuner.configClass().isInstance(config)) {
            throw new PeftException(tuner.peftType() + " needs a " + tuner.configClass().getSimpleName() + ", got a "
                    + config.getClass().getName());
        }
        return tuner.configClass().cast(config);
    }

    /** The tuner's tensors for {@code config} on this model by HF file name, worked out without making them; null when it cannot tell. */
    private <C extends PeftConfig> Map<String, long[]> plannedState(Tuner<C> tuner, PeftConfig config) {
        Map<String, long[]> shapes = tuner.savedShapes(model, typed(tuner, config), context);
        if (shapes == null) {
            return null;
        }
        Map<String, long[]> out = new LinkedHashMap<>();
        shapes.forEach((k, shape) -> out.put(stateKey(tuner, k), shape));
        return out;
    }

    /** The keys that size the tuner's tensors, as {@code " (r=8)"}, or nothing. */
    private static <C extends PeftConfig> String sizeKeys(Tuner<C> tuner, PeftConfig config) {
        String keys = tuner.sizeKeys(typed(tuner, config));
        return keys.isEmpty() ? "" : " (" + keys + ")";
    }

    private void checkBudget(String name, Tuner<?> tuner, PeftConfig config, Map<String, long[]> planned) {
        long total = 0;
        for (long[] shape : planned.values()) {
            long n = Tensor.numel(shape);
            total = total > Long.MAX_VALUE - n ? Long.MAX_VALUE : total + n;
        }
        if (total > adapterBudget) {
            throw new PeftException(String.format(java.util.Locale.ROOT,
                    "adapter '%s', %s%s, would hold %,d elements (%,d MB as float32), over this model's adapter budget of"
                            + " %,d elements (by default the base model's size); change the config, or raise the budget"
                            + " with setAdapterBudget (CLI: --max-adapter-elements)", name, config.peftType(),
                    sizeKeys(tuner, config), total, total / (1L << 18), adapterBudget));
        }
    }

    /** Checks a file's tensor shapes against what the config makes on this model, and the budget, before anything is made. */
    private void checkBeforeLoad(String name, PeftConfig config, Map<String, long[]> inFile) {
        Tuner<?> tuner = registry.tuner(config.peftType());
        Map<String, long[]> planned = plannedState(tuner, config);
        if (planned == null) {
            return; // the method cannot tell: checked after injection instead
        }
        Map<String, long[]> expected = new LinkedHashMap<>(planned);
        modulesToSaveState(tuner, config).forEach((k, p) -> expected.put(k, p.value().shape()));
        checkFits(tuner, config, expected, inFile); // the file explains a mismatch best, so it goes first
        checkBudget(name, tuner, config, planned);
    }

    /**
     * Fails unless {@code file} holds exactly the tensors {@code expected} names with their shapes;
     * the first differing tensor and the config keys that size it are named.
     */
    private static void checkFits(Tuner<?> tuner, PeftConfig config, Map<String, long[]> expected,
            Map<String, long[]> file) {
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            long[] got = file.get(e.getKey());
            if (got != null && !Arrays.equals(got, e.getValue())) {
                throw new PeftException("adapter file does not fit its config on this model: " + e.getKey() + " is "
                        + Arrays.toString(got) + " in the file, but adapter_config.json" + sizeKeys(tuner, config)
                        + " makes it " + Arrays.toString(e.getValue()));
            }
        }
        Set<String> missing = new TreeSet<>(expected.keySet());
        missing.removeAll(file.keySet());
        Set<String> unexpected = new TreeSet<>(file.keySet());
        unexpected.removeAll(expected.keySet());
        if (!missing.isEmpty() || !unexpected.isEmpty()) {
            throw new PeftException("adapter file does not fit its config on this model" + sizeKeys(tuner, config)
                    + ": the file lacks " + summary(missing) + " and holds " + summary(unexpected)
                    + " the config does not");
        }
    }

    /** A readable line for many names: the count and the first few. */
    private static String summary(Set<String> names) {
        if (names.isEmpty()) {
            return "nothing";
        }
        List<String> first = names.stream().limit(3).toList();
        return names.size() + (names.size() == 1 ? " tensor " : " tensors ") + first
                .toString().replace("]", names.size() > first.size() ? ", ...]" : "]");
    }

    /** The tuner for adapter {@code name}. */
    public Tuner<?> tuner(String name) {
        return registry.tuner(config(name).peftType());
    }

    /** The config of adapter {@code name}, or an error listing the adapters. */
    public PeftConfig config(String name) {
        PeftConfig c = adapters.get(name);
        if (c == null) {
            throw new PeftException("no adapter '" + name + "'; adapters: " + adapters.keySet());
        }
        return c;
    }

    /**
     * The adapter's trainable parameters under their HF file names: below {@code base_model.model.}
     * for layer methods, as the tuner names them for prompt learning; {@code modules_to_save}
     * parameters included.
     */
    public Map<String, Parameter> adapterState(String name) {
        Tuner<?> tuner = tuner(name);
        Map<String, Parameter> out = new LinkedHashMap<>();
        tuner.adapterState(model, name).forEach((k, v) -> out.put(stateKey(tuner, k), v));
        out.putAll(modulesToSaveState(tuner, name));
        return out;
    }

    /** The tensors an adapter file holds for adapter {@code name}, by HF file name. */
    public Map<String, Tensor> savedState(String name) {
        Tuner<?> tuner = tuner(name);
        Map<String, Tensor> out = new LinkedHashMap<>();
        tuner.savedState(model, name).forEach((k, v) -> out.put(stateKey(tuner, k), v));
        modulesToSaveState(tuner, name).forEach((k, p) -> out.put(k, p.value()));
        return out;
    }

    private Map<String, Parameter> modulesToSaveState(Tuner<?> tuner, String name) {
        return modulesToSaveState(tuner, config(name));
    }

    /** The parameters {@code config}'s {@code modules_to_save} name, by HF file name. */
    private Map<String, Parameter> modulesToSaveState(Tuner<?> tuner, PeftConfig config) {
        Map<String, Parameter> out = new LinkedHashMap<>();
        String prefix = tuner.isPromptLearning() ? "base_model." : "base_model.model.";
        for (String path : modulesToSave(config)) {
            model.find(path).namedParameters().forEach((k, v) -> out.put(prefix + path + "." + k, v));
        }
        return out;
    }

    /**
     * The module paths {@code modules_to_save} names, matched as HF does: a module whose path is
     * an entry or ends with {@code "." + entry}. Entries that match nothing are skipped with a
     * warning, as HF PEFT skips them (its classification configs list both {@code classifier} and
     * {@code score}); a list where no entry matches anything is an error.
     */
    private List<String> modulesToSave(PeftConfig config) {
        return modulesToSave(config, false);
    }

    /** As {@link #modulesToSave(PeftConfig)}; {@code warn}: log the skipped entries (once, when the adapter is added). */
    private List<String> modulesToSave(PeftConfig config, boolean warn) {
        List<String> out = new ArrayList<>();
        List<String> unmatched = new ArrayList<>();
        List<String> entries = new ArrayList<>(config.modulesToSave());
        List<String> implicit = new ArrayList<>();
        if (config.taskType() == org.peft4j.api.config.TaskType.SEQ_CLS) {
            // HF's PeftModelForSequenceClassification trains and saves the head whatever the config lists
            SEQ_CLS_HEADS.stream().filter(h -> !entries.contains(h)).forEach(implicit::add);
        }
        entries.addAll(implicit);
        for (String entry : entries) {
            List<String> matches = model.namedModules().keySet().stream()
                    .filter(p -> p.equals(entry) || p.endsWith("." + entry)).toList();
            if (matches.isEmpty() && !implicit.contains(entry)) {
                unmatched.add(entry);
            }
            matches.stream().filter(p -> !out.contains(p)).forEach(out::add);
        }
        if (!unmatched.isEmpty() && warn) {
            if (out.isEmpty()) {
                throw new PeftException("modules_to_save " + unmatched + " match no module of the "
                        + model.getClass().getSimpleName() + "; its top-level modules: " + model.children().keySet());
            }
            LOG.warn("modules_to_save entries {} match no module of the {}; skipped", unmatched,
                    model.getClass().getSimpleName());
        }
        return out;
    }

    /** The heads HF PEFT adds to {@code modules_to_save} for {@code SEQ_CLS} (its {@code PeftModelForSequenceClassification}). */
    private static final List<String> SEQ_CLS_HEADS = List.of("classifier", "score");

    private static String stateKey(Tuner<?> tuner, String key) {
        return tuner.isPromptLearning() ? key : "base_model.model." + key;
    }

    /**
     * Saves adapter {@code name} in HF PEFT's layout below {@code root}: in {@code root} itself
     * for {@code default}, else in {@code root/name}. The write is atomic.
     */
    public void save(Path root, String name) {
        lock.readLock().lock();
        try {
            Map<String, HostTensor> tensors = new LinkedHashMap<>();
            savedState(name).forEach((k, t) -> tensors.put(k, HostTensor.of(t)));
            AdapterFiles.save(AdapterFiles.adapterDir(root, name), config(name), tensors);
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Loads the adapter folder {@code dir} as adapter {@code name} (see
     * {@link #loadAdapter(String, AdapterFiles.Loaded)}). The config and the weights file's header
     * are checked against the model and the budget before the tensors' data is even read.
     */
    public void loadAdapter(String name, Path dir) {
        exclusive(() -> {
            PeftConfig config = AdapterFiles.readConfig(dir, registry);
            Map<String, long[]> inFile = AdapterFiles.readShapes(dir);
            checkBeforeLoad(name, config, inFile);
            load(name, config, inFile, AdapterFiles.readTensors(dir));
        });
    }

    /**
     * Adds adapter {@code name} from a loaded adapter folder: the file must hold exactly the
     * adapter's tensors with matching shapes. Every mismatch is checked before the adapter is
     * injected, so a file that does not fit leaves the model unchanged.
     */
    public void loadAdapter(String name, AdapterFiles.Loaded loaded) {
        exclusive(() -> {
            Map<String, long[]> inFile = new LinkedHashMap<>();
            loaded.tensors().forEach((k, t) -> inFile.put(k, t.shape()));
            checkBeforeLoad(name, loaded.config(), inFile);
            load(name, loaded.config(), inFile, loaded.tensors());
        });
    }

    /** Injects a checked adapter, checks what it made against the file once more, and fills it from the file. */
    private void load(String name, PeftConfig config, Map<String, long[]> inFile, Map<String, HostTensor> tensors) {
        add(name, config, false); // planned sizes and the budget were checked by checkBeforeLoad
        Tuner<?> tuner = tuner(name);
        try {
            // a safety net for methods that cannot plan their sizes (savedShapes null)
            Map<String, long[]> made = new LinkedHashMap<>();
            savedState(name).forEach((k, t) -> made.put(k, t.shape()));
            checkFits(tuner, config, made, inFile);
        } catch (PeftException e) {
            deleteAdapter(name);
            throw e;
        }
        Backend backend = model.backend();
        Map<String, Tensor> own = new LinkedHashMap<>();
        tuner.savedState(model, name).keySet()
                .forEach(k -> own.put(k, tensors.get(stateKey(tuner, k)).to(backend)));
        tuner.loadState(model, name, own);
        modulesToSaveState(tuner, name).forEach((k, p) -> p.set(tensors.get(k).to(backend)));
    }

    /**
     * Makes {@code names} the active adapters (HF's {@code set_adapter}); the others keep their
     * weights but stop affecting the output. Several adapters at once add up (LoRA).
     */
    public void setAdapter(String... names) {
        lock.writeLock().lock();
        try {
            Set<String> chosen = new LinkedHashSet<>(Arrays.asList(names));
            chosen.forEach(this::config);
            for (String other : adapters.keySet()) {
                tuner(other).setActive(model, other, chosen.contains(other));
            }
            active.clear();
            adapters.keySet().stream().filter(chosen::contains).forEach(active::add);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Runs a forward pass (or any read of the model) while no adapter operation can run, so it
     * sees one consistent adapter state; many threads may infer at once.
     */
    public <T> T infer(java.util.function.Supplier<T> forward) {
        lock.readLock().lock();
        try {
            return forward.get();
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Runs {@code forward} with each row of the batch going through its own adapter (HF's
     * {@code adapter_names}): {@code rowAdapters.get(i)} names row {@code i}'s adapter, or
     * {@link RowAdapters#BASE} for none. The result equals running each row alone with only its
     * adapter active. Adapters must be unmerged, of a method that supports mixed batches. For texts
     * packed into shared sequences ({@code PackedBatch}), give one name per position instead
     * ({@code PackedBatch.perPosition}): layers route each position by it.
     */
    public <T> T withRowAdapters(List<String> rowAdapters, java.util.function.Supplier<T> forward) {
        lock.readLock().lock();
        try {
            for (String name : new LinkedHashSet<>(rowAdapters)) {
                if (name.equals(RowAdapters.BASE)) {
                    continue;
                }
                if (!adapters.containsKey(name)) {
                    throw new PeftException("row adapter '" + name + "' does not exist; adapters: " + adapters.keySet()
                            + " or " + RowAdapters.BASE);
                }
                if (!tuner(name).supportsMixedBatches()) {
                    throw new PeftException("adapter '" + name + "' (" + config(name).peftType()
                            + ") cannot be mixed row by row in one batch");
                }
                if (merged.contains(name)) {
                    throw new PeftException("adapter '" + name + "' is merged; unmerge it before a mixed-adapter batch");
                }
            }
            return RowAdapters.with(rowAdapters, forward);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** The names of the adapters that currently affect the output, in the order added. */
    public Set<String> activeAdapters() {
        return infer(() -> Collections.unmodifiableSet(new LinkedHashSet<>(active)));
    }

    /**
     * Removes adapter {@code name} and its layers (HF's {@code delete_adapter}). The
     * {@code modules_to_save} it made trainable are frozen again unless another adapter lists them.
     */
    public void deleteAdapter(String name) {
        lock.writeLock().lock();
        try {
            PeftConfig removed = config(name);
            if (merged.contains(name)) {
                unmerge(name);
            }
            // its tensors are kept out of every scope: without a release they would live as long as the backend
            List<Parameter> owned = new ArrayList<>(tuner(name).adapterState(model, name).values());
            tuner(name).delete(model, name);
            owned.forEach(p -> p.value().backend().release(p.value()));
            adapters.remove(name);
            active.remove(name);
            merged.remove(name);
            Set<String> stillSaved = new java.util.HashSet<>();
            adapters.values().forEach(c -> stillSaved.addAll(modulesToSave(c)));
            for (String path : modulesToSave(removed)) {
                if (!stillSaved.contains(path)) {
                    model.find(path).setTrainable(false);
                }
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Switches every adapter off until the returned handle is closed (HF's
     * {@code with model.disable_adapter():}), so the model computes the base output:
     * <pre>{@code try (var base = peft.disableAdapter()) { ... } }</pre>
     * Merged adapters are unmerged for the duration and merged again on close.
     */
    public AdapterSwitch disableAdapter() {
        Set<String> wasActive;
        Set<String> wasMerged;
        lock.writeLock().lock();
        try {
            wasActive = new LinkedHashSet<>(active);
            wasMerged = new LinkedHashSet<>(merged);
            wasMerged.forEach(this::unmerge);
            for (String name : wasActive) {
                tuner(name).setActive(model, name, false);
            }
            active.clear();
        } finally {
            lock.writeLock().unlock();
        }
        boolean[] closed = {false};
        return () -> {
            lock.writeLock().lock();
            try {
                if (closed[0]) {
                    return;
                }
                closed[0] = true;
                for (String name : wasActive) {
                    tuner(name).setActive(model, name, true);
                }
                active.addAll(wasActive);
                wasMerged.forEach(this::merge);
            } finally {
                lock.writeLock().unlock();
            }
        };
    }

    /** Restores the adapters {@link #disableAdapter} switched off; closing twice is harmless. */
    public interface AdapterSwitch extends AutoCloseable {
        @Override
        void close();
    }

    /** Trainable and total parameter counts, as HF's {@code print_trainable_parameters}. */
    public ParameterCount parameterCount() {
        long trainable = 0;
        long total = 0;
        for (Parameter p : model.namedParameters().values()) {
            total += p.numel();
            if (p.trainable()) {
                trainable += p.numel();
            }
        }
        return new ParameterCount(trainable, total);
    }

    /** The trainable parameters, in model order. */
    public List<Parameter> trainableParameters() {
        return List.copyOf(model.trainableParameters().values());
    }

    /** Folds adapter {@code name} into the base weights (where the method allows it). */
    public void merge(String name) {
        exclusive(() -> {
            tuner(name).merge(model, name);
            merged.add(name);
        });
    }

    /** Undoes {@link #merge}. */
    public void unmerge(String name) {
        exclusive(() -> {
            tuner(name).unmerge(model, name);
            merged.remove(name);
        });
    }

    /** Runs an adapter operation while no forward pass runs (the write side of {@link #infer}'s lock). */
    private void exclusive(Runnable operation) {
        lock.writeLock().lock();
        // what an operation keeps lives in parameters (kept out of scopes); its temporaries go with the scope
        try (org.peft4j.api.backend.Scope temporaries = model.backend().scope()) {
            operation.run();
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Folds every active adapter into the base weights and removes all adapters (HF's
     * {@code merge_and_unload}): what is left is the base model with updated weights and no
     * adapter layers, for inference at base speed. Fails, changing nothing, when an active
     * adapter's method cannot merge.
     */
    public Module mergeAndUnload() {
        lock.writeLock().lock();
        try {
            for (String name : active) {
                if (!tuner(name).canMerge()) {
                    throw new PeftException("adapter '" + name + "' (" + config(name).peftType()
                            + ") cannot be merged into the base weights; only mergeable methods support mergeAndUnload");
                }
            }
            for (String name : List.copyOf(active)) {
                if (!merged.contains(name)) {
                    merge(name);
                }
            }
            for (String name : List.copyOf(adapters.keySet())) {
                tuner(name).delete(model, name);
                adapters.remove(name);
            }
            active.clear();
            merged.clear();
            return model;
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Trainable and total parameter counts.
     *
     * @param trainable elements that train
     * @param total all elements, adapters included
     */
    public record ParameterCount(long trainable, long total) {
        /** Trainable share in percent. */
        public double percent() {
            return total == 0 ? 0 : 100.0 * trainable / total;
        }

        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "trainable params: %,d || all params: %,d || trainable%%: %.4f",
                    trainable, total, percent());
        }
    }
}
