package org.peft4j.lora;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.peft4j.api.PeftException;
import org.peft4j.core.PeftModel;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.Module;

/**
 * HF PEFT's {@code add_weighted_adapter} for LoRA: a new adapter built from weighted existing ones.
 *
 * <ul>
 *   <li>{@link Combination#CAT}: the adapters' A matrices (each times its weight and scaling)
 *       stacked, their B matrices side by side; rank is the sum of ranks and the update is exactly
 *       {@code sum_i w_i * scaling_i * B_i A_i}.</li>
 *   <li>{@link Combination#LINEAR}: {@code A = sum_i sqrt(w_i * scaling_i) A_i} and likewise B;
 *       all adapters need the same rank, and cross terms {@code B_i A_j} appear, as in HF.</li>
 * </ul>
 * The new adapter has {@code lora_alpha = r} (scaling 1), targets the union of the layers, keeps
 * the first adapter's other settings, and is added like any adapter (inactive when another is
 * active), as HF does.
 */
public final class WeightedAdapters {
    private WeightedAdapters() {
    }

    /** How the adapters are combined. */
    public enum Combination {
        LINEAR, CAT;

        /** Parses HF's name ({@code linear}, {@code cat}). */
        public static Combination parse(String name) {
            for (Combination c : values()) {
                if (c.name().equalsIgnoreCase(name)) {
                    return c;
                }
            }
            throw new PeftException("combination_type '" + name + "' is not supported; supported: [linear, cat]");
        }
    }

    /**
     * Adds adapter {@code name} to {@code peft} combining {@code adapters} with {@code weights}.
     *
     * @throws PeftException for unknown or non-LoRA adapters, mismatched lists, or (linear) unequal ranks
     */
    public static void add(PeftModel peft, List<String> adapters, List<Double> weights, String name,
            Combination combination) {
        if (adapters.isEmpty() || adapters.size() != weights.size()) {
            throw new PeftException("need one weight per adapter; got " + adapters.size() + " adapters and "
                    + weights.size() + " weights");
        }
        List<LoraConfig> configs = new ArrayList<>();
        for (String a : adapters) {
            PeftConfig c = peft.config(a);
            if (!(c instanceof LoraConfig lc)) {
                throw new PeftException("adapter '" + a + "' is " + c.peftType() + "; only LoRA adapters can be combined");
            }
            if (lc.useDora()) {
                throw new PeftException("adapter '" + a + "' uses DoRA; weighted combinations of DoRA adapters are not "
                        + "defined (HF PEFT computes them wrongly, its issue #3761)");
            }
            if (!lc.rankPattern().isEmpty()) {
                throw new PeftException("adapter '" + a + "' has a rank_pattern; combining needs one rank per adapter");
            }
            configs.add(lc);
        }
        int rank;
        if (combination == Combination.LINEAR) {
            rank = configs.get(0).r();
            for (int i = 1; i < configs.size(); i++) {
                if (configs.get(i).r() != rank) {
                    throw new PeftException("linear combination needs equal ranks; '" + adapters.get(0) + "' has r="
                            + rank + ", '" + adapters.get(i) + "' has r=" + configs.get(i).r() + "; use cat");
                }
            }
            for (double w : weights) {
                if (w < 0) {
                    throw new PeftException("linear combination takes sqrt(weight * scaling); weight " + w
                            + " is negative; use cat");
                }
            }
        } else {
            rank = configs.stream().mapToInt(LoraConfig::r).sum();
        }
        Module model = peft.model();
        Set<String> layers = new LinkedHashSet<>();
        model.namedModules().forEach((path, m) -> {
            if (m instanceof LoraLinear l && adapters.stream().anyMatch(a -> l.loraA().contains(a))) {
                layers.add(path);
            }
        });
        LoraConfig first = configs.get(0);
        LoraConfig combined = LoraConfig.builder().r(rank).loraAlpha(rank).loraDropout(first.loraDropout())
                .targetModules(layers.toArray(String[]::new)).modulesToSave(first.modulesToSave().toArray(String[]::new))
                .bias(first.bias()).build();
        peft.addAdapter(name, combined);
        Backend backend = model.backend();
        for (String path : layers) {
            LoraLinear layer = (LoraLinear) model.find(path);
            try (Scope ignored = backend.scope()) {
                Tensor[] ab = combination == Combination.CAT ? cat(layer, adapters, weights, rank)
                        : linear(layer, adapters, weights);
                layer.loraA().child(name, Linear.class).weight().set(ab[0]);
                layer.loraB().child(name, Linear.class).weight().set(ab[1]);
            }
        }
    }

    private static Tensor[] cat(LoraLinear layer, List<String> adapters, List<Double> weights, int rank) {
        Backend backend = layer.backend();
        List<Tensor> as = new ArrayList<>();
        List<Tensor> bs = new ArrayList<>();
        int used = 0;
        for (int i = 0; i < adapters.size(); i++) {
            String a = adapters.get(i);
            if (!layer.loraA().contains(a)) {
                continue;
            }
            Tensor ai = layer.loraA().child(a, Linear.class).weight().value();
            as.add(ai.mul((float) (weights.get(i) * layer.scaling(a))));
            bs.add(layer.loraB().child(a, Linear.class).weight().value());
            used += (int) ai.size(0);
        }
        if (used < rank) {
            // layers that lack some adapters leave the remaining rank zero, as HF does
            as.add(backend.zeros(rank - used, layer.inFeatures()));
            bs.add(backend.zeros(layer.outFeatures(), rank - used));
        }
        return new Tensor[] {backend.concat(as, 0), backend.concat(bs, 1)};
    }

    private static Tensor[] linear(LoraLinear layer, List<String> adapters, List<Double> weights) {
        Tensor a = null;
        Tensor b = null;
        for (int i = 0; i < adapters.size(); i++) {
            String name = adapters.get(i);
            if (!layer.loraA().contains(name)) {
                continue;
            }
            float w = (float) Math.sqrt(weights.get(i) * layer.scaling(name));
            Tensor ai = layer.loraA().child(name, Linear.class).weight().value().mul(w);
            Tensor bi = layer.loraB().child(name, Linear.class).weight().value().mul(w);
            a = a == null ? ai : a.add(ai);
            b = b == null ? bi : b.add(bi);
        }
        return new Tensor[] {a, b};
    }
}
