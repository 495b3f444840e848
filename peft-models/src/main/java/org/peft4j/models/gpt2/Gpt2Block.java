package org.peft4j.models.gpt2;

import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Functional;
import org.peft4j.api.nn.InsertionPoint;
import org.peft4j.api.nn.LayerNorm;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.ModuleDict;
import org.peft4j.models.WeightMap;
import org.peft4j.models.decoder.KvCache;

/**
 * One pre-LayerNorm GPT-2 block with HF's names: {@code ln_1}, {@code attn}, {@code ln_2},
 * {@code mlp.c_fc}, {@code mlp.c_proj}. Each sub-layer's output passes its {@link InsertionPoint}
 * ({@code attn.adapter}, {@code mlp.adapter}) before the residual add.
 */
public final class Gpt2Block extends Module {
    private final Gpt2Config config;

    Gpt2Block(WeightMap w, Gpt2Config c, String path, int index) {
        super(w.backend());
        this.config = c;
        long n = c.nEmbd();
        float eps = c.layerNormEpsilon().floatValue();
        register("ln_1", layerNorm(w, path + ".ln_1", n, eps));
        register("attn", new Gpt2Attention(w, c, path + ".attn", index));
        register("ln_2", layerNorm(w, path + ".ln_2", n, eps));
        ModuleDict mlp = register("mlp", new ModuleDict(w.backend()));
        mlp.put("c_fc", Gpt2Attention.conv1d(w, path + ".mlp.c_fc", n, c.nInner()));
        mlp.put("c_proj", Gpt2Attention.conv1d(w, path + ".mlp.c_proj", c.nInner(), n));
        mlp.put("adapter", new InsertionPoint(w.backend(), n, n));
    }

    static LayerNorm layerNorm(WeightMap w, String path, long n, float eps) {
        return new LayerNorm(w.backend(), w.take(path + ".weight", n), w.take(path + ".bias", n), eps);
    }

    Tensor forward(Tensor h, Tensor mask, KvCache cache) {
        Tensor a = child("ln_1", LayerNorm.class).forward(h);
        Gpt2Attention attn = child("attn", Gpt2Attention.class);
        Tensor h1 = h.add(attn.child("adapter", InsertionPoint.class).forward(a, attn.forward(a, mask, cache)));
        Tensor m = child("ln_2", LayerNorm.class).forward(h1);
        ModuleDict mlp = child("mlp", ModuleDict.class);
        Tensor inner = activation(mlp.child("c_fc", LinearLayer.class).forward(m));
        Tensor out = Functional.dropout(mlp.child("c_proj", LinearLayer.class).forward(inner),
                (float) config.residPdrop().doubleValue(), isTraining());
        return h1.add(mlp.child("adapter", InsertionPoint.class).forward(m, out));
    }

    private Tensor activation(Tensor x) {
        return switch (config.activationFunction()) {
            case "gelu_new", "gelu_pytorch_tanh" -> x.geluTanh();
            case "gelu" -> x.gelu();
            case "relu" -> x.relu();
            // Gpt2Config rejects others; kept in step with Gpt2Config.ACTIVATIONS
            default -> throw new PeftException("activation_function '" + config.activationFunction()
                    + "' is not supported; supported: " + Gpt2Config.ACTIVATIONS);
        };
    }
}
