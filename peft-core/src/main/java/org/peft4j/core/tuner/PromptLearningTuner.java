package org.peft4j.core.tuner;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.ModuleDict;
import org.peft4j.api.tuner.Tuner;
import org.peft4j.api.tuner.TunerContext;

/**
 * The base of prompt-learning methods (HF's {@code is_prompt_learning}: prompt tuning, P-tuning,
 * prefix tuning). Each adapter is one {@link VirtualTokens} module in a {@value #ENCODERS}
 * dictionary on the model root, so parameter paths read
 * {@code prompt_encoder.<adapter>.embedding.weight} as in HF PEFT, and the adapter file holds one
 * tensor, {@value #SAVED}. A method says how to build its tokens and how to hand them to the
 * model's hooks (the input embeddings, or every attention layer); the first adapter added is
 * handed over at once, later ones when switched on.
 *
 * @param <C> the method's config
 * @param <E> the method's virtual-token module
 */
public abstract class PromptLearningTuner<C extends PeftConfig, E extends VirtualTokens> extends BaseTuner<C> {
    /** The root child holding every adapter's virtual tokens. */
    public static final String ENCODERS = "prompt_encoder";
    /** HF's name of the saved table. */
    public static final String SAVED = "prompt_embeddings";
    private final Class<E> encoderType;

    /** See {@link BaseTuner#BaseTuner}; {@code encoderType} is the method's virtual-token module. */
    protected PromptLearningTuner(String apiVersion, String peftType, Class<C> configClass, Class<E> encoderType) {
        super(apiVersion, peftType, configClass);
        this.encoderType = encoderType;
    }

    @Override
    public final boolean isPromptLearning() {
        return true;
    }

    /** Builds adapter {@code adapterName}'s virtual tokens for {@code model}, checking the config's sizes against it. */
    protected abstract E create(Module model, C config, TunerContext context);

    /** The shape of the table an adapter with {@code config} saves on {@code model}, (virtual tokens, width). */
    protected abstract long[] tableShape(Module model, C config);

    @Override
    public final Map<String, long[]> savedShapes(Module model, C config, TunerContext context) {
        return Map.of(SAVED, tableShape(model, config));
    }

    /** The encoder currently handed to the model's hooks, or null. */
    protected abstract E attached(Module model);

    /** Hands {@code encoder} to the model's hooks, or (null) takes whatever is there away. */
    protected abstract void attach(Module model, E encoder);

    @Override
    public final void inject(Module model, C config, String adapterName, TunerContext context) {
        E encoder = create(model, config, context);
        if (!model.children().containsKey(ENCODERS)) {
            model.attach(ENCODERS, new ModuleDict(model.backend()));
        }
        model.child(ENCODERS, ModuleDict.class).put(adapterName, encoder);
        if (attached(model) == null) {
            attach(model, encoder);
        }
    }

    /** Adapter {@code adapterName}'s virtual tokens, or an error naming the adapters present. */
    protected final E encoder(Module model, String adapterName) {
        ModuleDict all = model.children().containsKey(ENCODERS) ? model.child(ENCODERS, ModuleDict.class) : null;
        if (all == null || !all.contains(adapterName)) {
            throw new PeftException("the model has no " + peftType() + " adapter '" + adapterName + "'; prompt adapters: "
                    + (all == null ? "[]" : all.keys()));
        }
        return all.child(adapterName, encoderType);
    }

    @Override
    public final Map<String, Parameter> adapterState(Module model, String adapterName) {
        Map<String, Parameter> out = new LinkedHashMap<>();
        encoder(model, adapterName).namedParameters().forEach((k, p) -> {
            if (p.trainable()) {
                out.put(ENCODERS + "." + k, p);
            }
        });
        return out;
    }

    @Override
    public final Map<String, Tensor> savedState(Module model, String adapterName) {
        return Map.of(SAVED, encoder(model, adapterName).table());
    }

    @Override
    public final void loadState(Module model, String adapterName, Map<String, Tensor> tensors) {
        encoder(model, adapterName).load(tensors.get(SAVED));
    }

    @Override
    public final void setActive(Module model, String adapterName, boolean active) {
        E encoder = encoder(model, adapterName);
        if (active) {
            attach(model, encoder);
        } else if (attached(model) == encoder) {
            attach(model, null);
        }
    }

    @Override
    public final void delete(Module model, String adapterName) {
        setActive(model, adapterName, false);
        ModuleDict all = model.child(ENCODERS, ModuleDict.class);
        all.remove(adapterName);
        if (all.keys().isEmpty()) {
            model.detach(ENCODERS);
        }
    }

    /** Every module of the tree implementing {@code type}, in tree order. */
    protected static <T> List<T> all(Module model, Class<T> type) {
        List<T> out = new ArrayList<>();
        for (Module m : model.namedModules().values()) {
            if (type.isInstance(m)) {
                out.add(type.cast(m));
            }
        }
        return out;
    }

    /** Fails unless a size the config gives ({@code given}, null when left out) matches the model's. */
    protected static void checkSize(String key, Integer given, long actual) {
        if (given != null && given != actual) {
            throw new PeftException(key + " " + given + " does not match the model's " + actual);
        }
    }
}
