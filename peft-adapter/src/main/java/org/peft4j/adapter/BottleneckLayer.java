package org.peft4j.adapter;

import java.util.List;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.InsertionPoint;
import org.peft4j.api.nn.LayerNorm;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.ModuleDict;
import org.peft4j.core.tuner.AdapterLayer;
import org.peft4j.core.tuner.AdapterSet;
import org.peft4j.core.tuner.RowAdapters;

/**
 * An {@link InsertionPoint} holding bottleneck adapters, put where the model's plain insertion
 * point was. Children, one entry per adapter name: {@code adapter_down.<name>} (m x in, with
 * bias), {@code adapter_up.<name>} (d x m, with bias) and, with {@code ln_before},
 * {@code adapter_norm_before.<name>} (d).
 *
 * <p>For each active adapter in the order added, with y the sub-layer output and x its input:
 * <ul>
 * <li>in series (Houlsby, Pfeiffer): {@code y = y + scaling * up(act(down(LN(y))))};</li>
 * <li>in parallel: {@code y = y + scaling * up(act(down(x)))}.</li>
 * </ul>
 * The up-projection starts at zero, so a new adapter leaves the output unchanged. Inside
 * {@link RowAdapters#with} each row goes through its own adapter only (mixed-adapter batches).
 */
public final class BottleneckLayer extends InsertionPoint implements AdapterLayer {
    private final AdapterSet<Settings> adapters = new AdapterSet<>("bottleneck");

    /** How one adapter computes. */
    record Settings(String nonLinearity, float scaling, boolean parallel) {
    }

    BottleneckLayer(Backend backend, long inputSize, long outputSize) {
        super(backend, inputSize, outputSize);
        register("adapter_down", new ModuleDict(backend));
        register("adapter_up", new ModuleDict(backend));
        register("adapter_norm_before", new ModuleDict(backend));
    }

    ModuleDict down() {
        return child("adapter_down", ModuleDict.class);
    }

    ModuleDict up() {
        return child("adapter_up", ModuleDict.class);
    }

    ModuleDict normBefore() {
        return child("adapter_norm_before", ModuleDict.class);
    }

    @Override
    public AdapterSet<Settings> adapters() {
        return adapters;
    }

    @Override
    public Module restore() {
        return new InsertionPoint(backend(), inputSize(), outputSize());
    }

    void addAdapter(String name, Linear down, Linear up, LayerNorm norm, Settings s) {
        down().put(name, down);
        up().put(name, up);
        if (norm != null) {
            normBefore().put(name, norm);
        }
        adapters.add(name, s);
    }

    /** Whether adapter {@code name} runs in parallel with the sub-layer. */
    public boolean isParallel(String name) {
        return adapters.get(name).parallel();
    }

    @Override
    public void removeAdapter(String name) {
        down().remove(name);
        up().remove(name);
        normBefore().remove(name);
    }

    @Override
    public Tensor forward(Tensor sublayerInput, Tensor sublayerOutput) {
        RowAdapters rows = RowAdapters.current();
        if (rows != null) {
            // one adapter per row: hand each group of rows both tensors, side by side on the last axis
            int last = sublayerOutput.rank() - 1;
            long in = sublayerInput.size(last);
            long width = in + sublayerOutput.size(last);
            Tensor both = backend().concat(List.of(sublayerInput, sublayerOutput), last);
            return rows.apply(sublayerOutput, both, (name, sub) -> adapters.contains(name)
                    ? delta(name, sub.slice(last, 0, in), sub.slice(last, in, width))
                    : null);
        }
        Tensor y = sublayerOutput;
        for (String name : adapters.activeUnmerged()) {
            y = y.add(delta(name, sublayerInput, y));
        }
        return y;
    }

    /** What adapter {@code name} adds to sub-layer output {@code y}, given the sub-layer's input {@code x}. */
    private Tensor delta(String name, Tensor x, Tensor y) {
        Settings s = adapters.get(name);
        Tensor h;
        if (s.parallel()) {
            h = x;
        } else {
            h = normBefore().contains(name) ? normBefore().child(name, LayerNorm.class).forward(y) : y;
        }
        Tensor z = activation(down().child(name, Linear.class).forward(h), s.nonLinearity());
        Tensor out = up().child(name, Linear.class).forward(z);
        return s.scaling() == 1f ? out : out.mul(s.scaling());
    }

    static Tensor activation(Tensor x, String name) {
        return switch (name) {
            case "relu" -> x.relu();
            case "swish", "silu" -> x.silu();
            case "gelu" -> x.gelu();
            case "tanh" -> x.tanh();
            case "sigmoid" -> x.sigmoid();
            default -> throw new PeftException("non_linearity must be one of "
                    + new java.util.TreeSet<>(BottleneckConfig.NON_LINEARITIES) + ", got '" + name + "'");
        };
    }
}
