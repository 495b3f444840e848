package org.peft4j.models.llama;

import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.InsertionPoint;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.ModuleDict;
import org.peft4j.models.WeightMap;
import org.peft4j.models.decoder.KvCache;

/**
 * One pre-norm LLaMA decoder layer with HF's names: {@code input_layernorm}, {@code self_attn},
 * {@code post_attention_layernorm}, {@code mlp.gate_proj/up_proj/down_proj} (SwiGLU). Each
 * sub-layer's output passes an {@link InsertionPoint} ({@code self_attn.adapter},
 * {@code mlp.adapter}) before its residual add.
 */
public final class LlamaLayer extends Module {

    LlamaLayer(WeightMap w, LlamaConfig c, int index) {
        super(w.backend());
        String p = "model.layers." + index;
        float eps = c.rmsNormEps().floatValue();
        register("input_layernorm", new RmsNorm(w.backend(), w.take(p + ".input_layernorm.weight", c.hiddenSize()), eps));
        register("self_attn", new LlamaAttention(w, c, p + ".self_attn", index));
        register("post_attention_layernorm", new RmsNorm(w.backend(),
                w.take(p + ".post_attention_layernorm.weight", c.hiddenSize()), eps));
        ModuleDict mlp = register("mlp", new ModuleDict(w.backend()));
        mlp.put("gate_proj", LlamaAttention.linear(w, p + ".mlp.gate_proj", c.hiddenSize(), c.intermediateSize()));
        mlp.put("up_proj", LlamaAttention.linear(w, p + ".mlp.up_proj", c.hiddenSize(), c.intermediateSize()));
        mlp.put("down_proj", LlamaAttention.linear(w, p + ".mlp.down_proj", c.intermediateSize(), c.hiddenSize()));
        mlp.put("adapter", new InsertionPoint(w.backend(), c.hiddenSize(), c.hiddenSize()));
    }

    Tensor forward(Tensor h, Tensor[] rope, Tensor mask, KvCache cache) {
        Tensor normed = child("input_layernorm", RmsNorm.class).forward(h);
        LlamaAttention selfAttn = child("self_attn", LlamaAttention.class);
        Tensor attn = selfAttn.child("adapter", InsertionPoint.class).forward(normed, selfAttn.forward(normed, rope, mask, cache));
        Tensor h1 = h.add(attn);
        Tensor n2 = child("post_attention_layernorm", RmsNorm.class).forward(h1);
        ModuleDict mlp = child("mlp", ModuleDict.class);
        Tensor gated = mlp.child("gate_proj", LinearLayer.class).forward(n2).silu()
                .mul(mlp.child("up_proj", LinearLayer.class).forward(n2));
        Tensor out = mlp.child("down_proj", LinearLayer.class).forward(gated);
        out = mlp.child("adapter", InsertionPoint.class).forward(n2, out);
        return h1.add(out);
    }
}
