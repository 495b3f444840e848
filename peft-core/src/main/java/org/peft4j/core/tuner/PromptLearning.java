package org.peft4j.core.tuner;

import java.util.ArrayList;
import java.util.List;
import org.peft4j.api.PeftException;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.ModuleDict;

/**
 * What prompt-learning methods (prompt tuning, P-tuning, prefix tuning) share: their encoders
 * live in a {@code prompt_encoder} dictionary on the model root, one entry per adapter, so
 * parameter paths read {@code prompt_encoder.<adapter>.embedding.weight} as in HF PEFT.
 */
public final class PromptLearning {
    /** The root child holding every prompt encoder. */
    public static final String ENCODERS = "prompt_encoder";

    private PromptLearning() {
    }

    /** The model's prompt encoders, attached on first use. */
    public static ModuleDict encoders(Module model) {
        if (!model.children().containsKey(ENCODERS)) {
            model.attach(ENCODERS, new ModuleDict(model.backend()));
        }
        return model.child(ENCODERS, ModuleDict.class);
    }

    /** Adapter {@code adapter}'s encoder, or an error naming the adapters present. */
    public static <M extends Module> M encoder(Module model, String adapter, Class<M> type) {
        ModuleDict all = model.children().containsKey(ENCODERS) ? model.child(ENCODERS, ModuleDict.class) : null;
        if (all == null || !all.contains(adapter)) {
            throw new PeftException("the model has no prompt adapter '" + adapter + "'; prompt adapters: "
                    + (all == null ? "[]" : all.keys()));
        }
        return all.child(adapter, type);
    }

    /** Removes adapter {@code adapter}'s encoder, and the dictionary when it is left empty. */
    public static void removeEncoder(Module model, String adapter) {
        ModuleDict all = encoders(model);
        all.remove(adapter);
        if (all.keys().isEmpty()) {
            model.detach(ENCODERS);
        }
    }

    /** Every module of the tree implementing {@code type}, in tree order. */
    public static <T> List<T> all(Module model, Class<T> type) {
        List<T> out = new ArrayList<>();
        for (Module m : model.namedModules().values()) {
            if (type.isInstance(m)) {
                out.add(type.cast(m));
            }
        }
        return out;
    }

    /** The single module implementing {@code type}; {@code what} names the hook in errors. */
    public static <T> T only(Module model, Class<T> type, String what) {
        List<T> found = all(model, type);
        if (found.size() != 1) {
            throw new PeftException("prompt learning needs exactly one " + what + " in the model ("
                    + type.getName() + "), found " + found.size());
        }
        return found.get(0);
    }
}
