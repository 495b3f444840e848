package org.peft4j.langchain4j;

import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.output.Response;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.core.Peft;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.task.Classifiers;
import org.peft4j.models.task.SentenceEmbedder;
import org.peft4j.models.text.Tokenizer;

/**
 * A LangChain4j {@link EmbeddingModel} over a peft4j encoder, optionally with an adapter: the
 * bundled all-MiniLM-L6-v2 (or a Hugging Face folder or cached id) fine-tuned with peft4j, wherever
 * LangChain4j takes an embedding model (embedding stores, RAG retrievers). Embeddings are what
 * {@code peft embed} prints: mean-pooled, L2-normalised. {@link #embedAll} runs real batches.
 *
 * <pre>{@code
 * try (PeftEmbeddingModel model = PeftEmbeddingModel.builder().model("minilm").adapter(Path.of("my-adapter")).build()) {
 *     EmbeddingStore<TextSegment> store = new InMemoryEmbeddingStore<>();
 *     ...
 * }
 * }</pre>
 * Thread-safe (calls run one at a time). Closing releases the tokenizer and, when the builder made
 * it, the backend.
 */
public final class PeftEmbeddingModel implements EmbeddingModel, AutoCloseable {
    private final SentenceEmbedder embedder;
    private final Tokenizer tokenizer;
    private final Backend ownedBackend;
    private final String name;

    private PeftEmbeddingModel(SentenceEmbedder embedder, Tokenizer tokenizer, Backend ownedBackend, String name) {
        this.embedder = embedder;
        this.tokenizer = tokenizer;
        this.ownedBackend = ownedBackend;
        this.name = name;
    }

    /** A builder: the bundled MiniLM on the default backend, no adapter, 256 tokens, batches of 32. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public synchronized Response<List<Embedding>> embedAll(List<TextSegment> segments) {
        List<String> texts = new ArrayList<>(segments.size());
        segments.forEach(s -> texts.add(s.text()));
        List<Embedding> out = new ArrayList<>(texts.size());
        for (float[] v : embedder.embed(texts)) {
            out.add(Embedding.from(v));
        }
        return Response.from(out);
    }

    @Override
    public int dimension() {
        return embedder.dimension();
    }

    @Override
    public String modelName() {
        return name;
    }

    @Override
    public synchronized void close() {
        tokenizer.close();
        if (ownedBackend != null) {
            ownedBackend.close();
        }
    }

    /** Options of a {@link PeftEmbeddingModel}. */
    public static final class Builder {
        private String model = PretrainedEncoder.MINILM;
        private Path adapter;
        private Backend backend;
        private int maxLength = 256;
        private int batchSize = 32;

        private Builder() {
        }

        /** {@code minilm} (default), a Hugging Face model folder, or a model id in the local Hugging Face cache. */
        public Builder model(String spec) {
            this.model = spec;
            return this;
        }

        /** An adapter folder (peft4j's or Hugging Face PEFT's) to apply; none by default. */
        public Builder adapter(Path dir) {
            this.adapter = dir;
            return this;
        }

        /** The backend to run on, which the caller keeps and closes; default: a new default backend, closed with the model. */
        public Builder backend(Backend value) {
            this.backend = value;
            return this;
        }

        /** The longest token sequence; longer texts are cut. Default 256 (what {@code peft embed} uses). */
        public Builder maxLength(int value) {
            this.maxLength = value;
            return this;
        }

        /** Texts per forward pass in {@link PeftEmbeddingModel#embedAll}. Default 32. */
        public Builder batchSize(int value) {
            this.batchSize = value;
            return this;
        }

        /** Loads the model (and adapter) and makes the embedding model. */
        public PeftEmbeddingModel build() {
            if (maxLength < 2 || batchSize < 1) {
                throw new PeftException("maxLength must be at least 2 and batchSize positive, got " + maxLength + " and "
                        + batchSize);
            }
            PretrainedEncoder encoder = PretrainedEncoder.load(model);
            Backend b = backend != null ? backend : Peft.backend();
            Tokenizer tok = null;
            try {
                BertModel bert;
                String name = encoder.name();
                if (adapter == null) {
                    bert = encoder.build(b);
                } else {
                    AdapterFiles.Loaded loaded = AdapterFiles.load(adapter, Peft.registry());
                    bert = Classifiers.load(encoder, Peft.factory(b), loaded, 2).net().bert();
                    name += "+" + adapter.toAbsolutePath().normalize().getFileName();
                }
                tok = encoder.tokenizer();
                return new PeftEmbeddingModel(new SentenceEmbedder(bert, tok, maxLength, batchSize), tok,
                        backend == null ? b : null, name);
            } catch (RuntimeException e) {
                if (tok != null) {
                    tok.close();
                }
                if (backend == null) {
                    b.close();
                }
                throw e;
            }
        }
    }
}
