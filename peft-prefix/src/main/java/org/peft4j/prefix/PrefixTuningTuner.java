package org.peft4j.prefix;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.nn.KeyValuePrefix;
import org.peft4j.api.nn.Module;
import org.peft4j.core.tuner.PromptLearning;
import org.peft4j.api.tuner.Tuner;
import org.peft4j.api.tuner.TunerContext;

/**
 * Prefix tuning ({@code peft_type} {@value PrefixTuningConfig#PEFT_TYPE}): one {@link PrefixEncoder}
 * per adapter under {@code prompt_encoder.<adapter>}, set on every attention layer that accepts a
 * {@link KeyValuePrefix}. Saved as HF does: {@value #SAVED}, (virtual tokens, layers * 2 * width),
 * with any projection folded in.
 */
public final class PrefixTuningTuner implements Tuner {
    static final String SAVED = "prompt_embeddings";

    @Override
    public String peftType() {
        return PrefixTuningConfig.PEFT_TYPE;
    }

    @Override
    public Class<? extends PeftConfig> configClass() {
        return PrefixTuningConfig.class;
    }

    @Override
    public boolean isPromptLearning() {
        return true;
    }

    private static List<KeyValuePrefix.Attention> attention(Module model) {
        List<KeyValuePrefix.Attention> all = PromptLearning.all(model, KeyValuePrefix.Attention.class);
        if (all.isEmpty()) {
            throw new PeftException("prefix tuning needs attention layers that accept key/value prefixes ("
                    + KeyValuePrefix.Attention.class.getName() + "); the model has none");
        }
        return all;
    }

    @Override
    public void inject(Module model, PeftConfig config, String adapterName, TunerContext context) {
        if (!(config instanceof PrefixTuningConfig c)) {
            throw new PeftException("prefix tuning needs a PrefixTuningConfig, got " + config.getClass().getSimpleName());
        }
        List<KeyValuePrefix.Attention> attention = attention(model);
        KeyValuePrefix.Attention first = attention.get(0);
        int layers = attention.size();
        int heads = first.heads();
        long headDim = first.headDim();
        check("num_layers", c.numLayers(), layers);
        check("num_attention_heads", c.numAttentionHeads(), heads);
        check("token_dim", c.tokenDim(), heads * headDim);
        long hidden = c.encoderHiddenSize() == null ? heads * headDim : c.encoderHiddenSize();
        PrefixEncoder encoder = new PrefixEncoder(context.backend(), c.numVirtualTokens(), layers, heads, headDim,
                c.prefixProjection(), hidden, context.init());
        PromptLearning.encoders(model).put(adapterName, encoder);
        if (first.prefix() == null) {
            attention.forEach(a -> a.setPrefix(encoder));
        }
    }

    private static void check(String key, Integer given, long actual) {
        if (given != null && given != actual) {
            throw new PeftException(key + " " + given + " does not match the model's " + actual);
        }
    }

    @Override
    public Map<String, Parameter> adapterState(Module model, String adapterName) {
        PrefixEncoder encoder = PromptLearning.encoder(model, adapterName, PrefixEncoder.class);
        Map<String, Parameter> out = new LinkedHashMap<>();
        encoder.namedParameters().forEach((k, p) -> {
            if (p.trainable()) {
                out.put("prompt_encoder." + k, p);
            }
        });
        return out;
    }

    @Override
    public Map<String, Tensor> savedState(Module model, String adapterName) {
        return Map.of(SAVED, PromptLearning.encoder(model, adapterName, PrefixEncoder.class).values());
    }

    @Override
    public void loadState(Module model, String adapterName, Map<String, Tensor> tensors) {
        PromptLearning.encoder(model, adapterName, PrefixEncoder.class).load(tensors.get(SAVED));
    }

    @Override
    public void setActive(Module model, String adapterName, boolean active) {
        PrefixEncoder encoder = PromptLearning.encoder(model, adapterName, PrefixEncoder.class);
        for (KeyValuePrefix.Attention a : attention(model)) {
            if (active) {
                a.setPrefix(encoder);
            } else if (a.prefix() == encoder) {
                a.setPrefix(null);
            }
        }
    }

    @Override
    public void delete(Module model, String adapterName) {
        setActive(model, adapterName, false);
        PromptLearning.removeEncoder(model, adapterName);
    }
}
