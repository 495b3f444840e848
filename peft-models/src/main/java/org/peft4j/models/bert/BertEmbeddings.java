package org.peft4j.models.bert;

import java.util.List;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Embedding;
import org.peft4j.api.nn.Functional;
import org.peft4j.api.nn.LayerNorm;
import org.peft4j.api.nn.PromptPrefix;
import org.peft4j.models.PromptableEmbeddings;
import org.peft4j.models.WeightMap;

/**
 * BERT's input embeddings: word + position + token type, then LayerNorm and dropout. Accepts a
 * {@link PromptPrefix}: virtual tokens are put before the word embeddings and get positions and
 * token type 0 like real tokens, as HF PEFT's prompt learning does through {@code inputs_embeds}.
 */
public final class BertEmbeddings extends PromptableEmbeddings {
    private final BertConfig config;

    BertEmbeddings(WeightMap w, BertConfig c) {
        super(w.backend(), "word_embeddings");
        this.config = c;
        long h = c.hiddenSize();
        register("word_embeddings", new Embedding(w.backend(), w.take("embeddings.word_embeddings.weight", c.vocabSize(), h)));
        register("position_embeddings", new Embedding(w.backend(),
                w.take("embeddings.position_embeddings.weight", c.maxPositionEmbeddings(), h)));
        register("token_type_embeddings", new Embedding(w.backend(),
                w.take("embeddings.token_type_embeddings.weight", c.typeVocabSize(), h)));
        register("LayerNorm", new LayerNorm(w.backend(), w.take("embeddings.LayerNorm.weight", h),
                w.take("embeddings.LayerNorm.bias", h), (float) c.layerNormEps()));
    }

    /**
     * Embeds {@code ids} (batch, seq); {@code tokenTypeIds} may be null (all type 0). Returns
     * (batch, prompt + seq, hidden).
     */
    public Tensor forward(Tensor ids, Tensor tokenTypeIds) {
        return forward(ids, tokenTypeIds, 0);
    }

    /**
     * As {@link #forward(Tensor, Tensor)}, with positions starting at {@code firstPosition}: HF's
     * {@code past_key_values_length}, which prefix tuning's virtual keys and values make the number
     * of virtual tokens.
     */
    public Tensor forward(Tensor ids, Tensor tokenTypeIds, long firstPosition) {
        long batch = ids.size(0);
        Tensor words = embedTokens(ids);
        Tensor types = tokenTypeIds == null ? null : child("token_type_embeddings", Embedding.class).forward(tokenTypeIds);
        Tensor type0 = child("token_type_embeddings", Embedding.class).weight().value().slice(0, 0, 1);
        PromptPrefix prompt = prompt();
        if (prompt != null) {
            Tensor virtual = prompt.embeddings(batch);
            words = backend().concat(List.of(virtual, words), 1);
            if (types != null) {
                Tensor promptTypes = backend().zeros(batch, prompt.length(), 1).add(type0);
                types = backend().concat(List.of(promptTypes, types), 1);
            }
        }
        long length = words.size(1);
        if (firstPosition + length > config.maxPositionEmbeddings()) {
            throw new PeftException("sequence of " + length + " tokens" + (firstPosition > 0 ? " after " + firstPosition
                    + " prefix positions" : "") + " exceeds max_position_embeddings " + config.maxPositionEmbeddings()
                    + "; truncate the input");
        }
        Tensor positions = child("position_embeddings", Embedding.class).weight().value()
                .slice(0, firstPosition, firstPosition + length);
        return normed(words.add(positions).add(types == null ? type0 : types));
    }

    /**
     * Embeds a packed batch ({@link PackedBatch}): {@code ids}, {@code tokenTypeIds} and
     * {@code positionIds} all (sequences, length), positions restarting at 0 for each text. No soft
     * prompt: its virtual tokens would belong to no text.
     */
    public Tensor forward(Tensor ids, Tensor tokenTypeIds, Tensor positionIds) {
        if (prompt() != null) {
            throw new PeftException("a soft prompt's virtual tokens cannot join a packed batch");
        }
        Tensor words = embedTokens(ids);
        Tensor positions = child("position_embeddings", Embedding.class).forward(positionIds);
        Tensor types = child("token_type_embeddings", Embedding.class).forward(tokenTypeIds);
        return normed(words.add(positions).add(types));
    }

    private Tensor normed(Tensor sum) {
        Tensor normed = child("LayerNorm", LayerNorm.class).forward(sum);
        return Functional.dropout(normed, (float) config.hiddenDropoutProb(), isTraining());
    }
}
