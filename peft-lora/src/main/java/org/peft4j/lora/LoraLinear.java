package org.peft4j.lora;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Functional;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.ModuleDict;
import org.peft4j.api.nn.RowAdapters;

/**
 * A linear layer with LoRA adapters beside it, laid out as HF PEFT's {@code lora.Linear}:
 * children {@code base_layer}, {@code lora_A.<adapter>} (r x in) and {@code lora_B.<adapter>}
 * (out x r). Output: {@code base(x) + sum over active, unmerged adapters of
 * B(A(dropout(x))) * scaling}.
 */
public final class LoraLinear extends Module implements LinearLayer {
    private final Map<String, Float> scaling = new LinkedHashMap<>();
    private final Map<String, Float> dropout = new LinkedHashMap<>();
    private final Set<String> active = new LinkedHashSet<>();
    private final Set<String> merged = new LinkedHashSet<>();

    LoraLinear(Linear base) {
        super(base.backend());
        register("base_layer", base);
        register("lora_A", new ModuleDict(base.backend()));
        register("lora_B", new ModuleDict(base.backend()));
    }

    @Override
    public Linear baseLayer() {
        return child("base_layer", Linear.class);
    }

    ModuleDict loraA() {
        return child("lora_A", ModuleDict.class);
    }

    ModuleDict loraB() {
        return child("lora_B", ModuleDict.class);
    }

    private final Map<String, String> biasMode = new LinkedHashMap<>();

    void addAdapter(String name, Linear a, Linear b, float scale, float dropoutP, String bias) {
        biasMode.put(name, bias);
        loraA().put(name, a);
        loraB().put(name, b);
        scaling.put(name, scale);
        dropout.put(name, dropoutP);
        active.add(name);
    }

    /** The scaling of adapter {@code name} (alpha/r, or alpha/sqrt(r) with rsLoRA). */
    public float scaling(String name) {
        Float s = scaling.get(name);
        if (s == null) {
            throw new PeftException("layer has no LoRA adapter '" + name + "'; adapters: " + scaling.keySet());
        }
        return s;
    }

    /** The update this adapter adds to the base weight: {@code B @ A * scaling}, (out, in). */
    Tensor deltaWeight(String name) {
        Tensor a = loraA().child(name, Linear.class).weight().value();
        Tensor b = loraB().child(name, Linear.class).weight().value();
        return b.matmul(a).mul(scaling(name));
    }

    void merge(String name) {
        if (merged.contains(name)) {
            return;
        }
        Parameter w = baseLayer().weight();
        try (Scope ignored = backend().scope()) {
            w.set(w.value().add(deltaWeight(name)));
        }
        merged.add(name);
    }

    void unmerge(String name) {
        if (!merged.remove(name)) {
            return;
        }
        Parameter w = baseLayer().weight();
        try (Scope ignored = backend().scope()) {
            w.set(w.value().sub(deltaWeight(name)));
        }
    }

    void setActive(String name, boolean on) {
        scaling(name);
        if (on) {
            active.add(name);
        } else {
            active.remove(name);
        }
    }

    /** Drops adapter {@code name}; the base weight is left as it is (merged or not). */
    void remove(String name) {
        loraA().remove(name);
        loraB().remove(name);
        scaling.remove(name);
        dropout.remove(name);
        biasMode.remove(name);
        active.remove(name);
        merged.remove(name);
    }

    /** HF's {@code bias} setting of adapter {@code name}: none, all or lora_only. */
    String biasMode(String name) {
        return biasMode.get(name);
    }

    /** Whether any adapter is left in this layer. */
    boolean hasAdapters() {
        return !scaling.isEmpty();
    }

    /** Whether adapter {@code name} is currently folded into the base weight. */
    public boolean isMerged(String name) {
        return merged.contains(name);
    }

    @Override
    public Tensor forward(Tensor x) {
        Tensor y = baseLayer().forward(x);
        RowAdapters rows = RowAdapters.current();
        if (rows != null) {
            return rows.apply(y, x, (name, sub) -> scaling.containsKey(name) ? delta(name, sub) : null);
        }
        for (String name : active) {
            if (!merged.contains(name)) {
                y = y.add(delta(name, x));
            }
        }
        return y;
    }

    /** What adapter {@code name} adds to the base output for input {@code x}. */
    private Tensor delta(String name, Tensor x) {
        Tensor h = Functional.dropout(x, dropout.get(name), isTraining());
        Tensor down = loraA().child(name, Linear.class).forward(h);
        Tensor up = loraB().child(name, Linear.class).forward(down);
        return up.mul(scaling.get(name));
    }

    @Override
    public long inFeatures() {
        return baseLayer().inFeatures();
    }

    @Override
    public long outFeatures() {
        return baseLayer().outFeatures();
    }
}
