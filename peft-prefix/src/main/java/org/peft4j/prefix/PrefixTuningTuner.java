package org.peft4j.prefix;

import java.util.List;
import org.peft4j.api.PeftApi;
import org.peft4j.api.PeftException;
import org.peft4j.api.nn.KeyValuePrefix;
import org.peft4j.api.nn.Module;
import org.peft4j.api.tuner.TunerContext;
import org.peft4j.core.tuner.PromptLearningTuner;

/**
 * Prefix tuning ({@code peft_type} {@value PrefixTuningConfig#PEFT_TYPE}): one {@link PrefixEncoder}
 * per adapter, set on every attention layer that accepts a {@link KeyValuePrefix}. Saved as HF
 * does: {@code prompt_embeddings}, (virtual tokens, layers * 2 * width), with any projection folded in.
 */
public final class PrefixTuningTuner extends PromptLearningTuner<PrefixTuningConfig, PrefixEncoder> {

    public PrefixTuningTuner() {
        super(PeftApi.VERSION, PrefixTuningConfig.PEFT_TYPE, PrefixTuningConfig.class, PrefixEncoder.class);
    }

    private static List<KeyValuePrefix.Attention> attention(Module model) {
        List<KeyValuePrefix.Attention> found = all(model, KeyValuePrefix.Attention.class);
        if (found.isEmpty()) {
            throw new PeftException("prefix tuning needs attention layers that accept key/value prefixes ("
                    + KeyValuePrefix.Attention.class.getName() + "); the model has none");
        }
        return found;
    }

    /** The model's attention layers, with the sizes the config gives checked against them. */
    private static List<KeyValuePrefix.Attention> checkedAttention(Module model, PrefixTuningConfig c) {
        List<KeyValuePrefix.Attention> attention = attention(model);
        KeyValuePrefix.Attention first = attention.get(0);
        checkSize("num_layers", c.prompt().numLayers(), attention.size());
        checkSize("num_attention_heads", c.prompt().numAttentionHeads(), first.heads());
        checkSize("token_dim", c.prompt().tokenDim(), first.heads() * first.headDim());
        return attention;
    }

    @Override
    protected PrefixEncoder create(Module model, PrefixTuningConfig c, TunerContext context) {
        List<KeyValuePrefix.Attention> attention = checkedAttention(model, c);
        int heads = attention.get(0).heads();
        long headDim = attention.get(0).headDim();
        long hidden = c.encoderHiddenSize() == null ? heads * headDim : c.encoderHiddenSize();
        return new PrefixEncoder(context.backend(), c.prompt().numVirtualTokens(), attention.size(), heads, headDim,
                c.prefixProjection(), hidden, context.init());
    }

    @Override
    protected long[] tableShape(Module model, PrefixTuningConfig c) {
        List<KeyValuePrefix.Attention> attention = checkedAttention(model, c);
        KeyValuePrefix.Attention first = attention.get(0);
        return new long[] {c.prompt().numVirtualTokens(), attention.size() * 2L * first.heads() * first.headDim()};
    }

    @Override
    public String sizeKeys(PrefixTuningConfig c) {
        return "num_virtual_tokens=" + c.prompt().numVirtualTokens();
    }

    @Override
    protected PrefixEncoder attached(Module model) {
        return attention(model).get(0).prefix() instanceof PrefixEncoder p ? p : null;
    }

    @Override
    protected void attach(Module model, PrefixEncoder encoder) {
        attention(model).forEach(a -> a.setPrefix(encoder));
    }
}
