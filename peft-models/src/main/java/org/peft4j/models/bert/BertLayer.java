package org.peft4j.models.bert;

import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Functional;
import org.peft4j.api.nn.InsertionPoint;
import org.peft4j.api.nn.LayerNorm;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.ModuleDict;
import org.peft4j.models.WeightMap;

/**
 * One post-LayerNorm BERT layer, with HF's module paths: {@code attention.self},
 * {@code attention.output.dense}, {@code attention.output.LayerNorm}, {@code intermediate.dense},
 * {@code output.dense}, {@code output.LayerNorm}. Each sub-layer's output passes an
 * {@link InsertionPoint} called {@code adapter} before the residual add (bottleneck adapters).
 */
public final class BertLayer extends Module {
    private final float dropout;

    BertLayer(WeightMap w, BertConfig c, int index) {
        super(w.backend());
        String p = "encoder.layer." + index;
        this.dropout = (float) c.hiddenDropoutProb();
        long h = c.hiddenSize();
        ModuleDict attention = register("attention", new ModuleDict(w.backend()));
        attention.put("self", new BertSelfAttention(w, c, p + ".attention.self", index));
        attention.put("output", subLayerOutput(w, c, p + ".attention.output", h, h));
        ModuleDict intermediate = register("intermediate", new ModuleDict(w.backend()));
        intermediate.put("dense", linear(w, p + ".intermediate.dense", h, c.intermediateSize()));
        register("output", subLayerOutput(w, c, p + ".output", c.intermediateSize(), h));
    }

    private static ModuleDict subLayerOutput(WeightMap w, BertConfig c, String path, long in, long out) {
        ModuleDict d = new ModuleDict(w.backend());
        d.put("dense", linear(w, path + ".dense", in, out));
        d.put("LayerNorm", new LayerNorm(w.backend(), w.take(path + ".LayerNorm.weight", out),
                w.take(path + ".LayerNorm.bias", out), (float) c.layerNormEps()));
        d.put("adapter", new InsertionPoint(w.backend(), in, out));
        return d;
    }

    static Linear linear(WeightMap w, String path, long in, long out) {
        return new Linear(w.backend(), w.take(path + ".weight", out, in), w.take(path + ".bias", out));
    }

    /**
     * @param h hidden states (batch, seq, hidden)
     * @param keyMask (batch, seq) float, 1 for real tokens
     */
    public Tensor forward(Tensor h, Tensor keyMask) {
        ModuleDict attention = child("attention", ModuleDict.class);
        Tensor context = attention.child("self", BertSelfAttention.class).forward(h, keyMask);
        Tensor h1 = residual(attention.child("output", ModuleDict.class), h, context);
        Tensor inner = child("intermediate", ModuleDict.class).child("dense", LinearLayer.class).forward(h1).gelu();
        return residual(child("output", ModuleDict.class), h1, inner);
    }

    /** dense -> dropout -> adapter -> LayerNorm(x + residual). */
    private Tensor residual(ModuleDict out, Tensor residual, Tensor x) {
        Tensor y = Functional.dropout(out.child("dense", LinearLayer.class).forward(x), dropout, isTraining());
        y = out.child("adapter", InsertionPoint.class).forward(x, y);
        return out.child("LayerNorm", LayerNorm.class).forward(y.add(residual));
    }
}
