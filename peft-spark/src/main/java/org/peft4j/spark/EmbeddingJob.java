package org.peft4j.spark;

import java.io.Serializable;
import org.peft4j.api.PeftException;

/**
 * What each executor loads, once per JVM, to embed texts: the model, an optional adapter folder
 * (a path every executor can read) and how texts are cut and batched.
 *
 * @param model {@code minilm}, a Hugging Face folder or a cached model id
 * @param backend the backend name
 * @param adapter an adapter folder, or null for the base model
 * @param maxLength longest token sequence; longer texts are cut
 * @param batchSize texts per forward pass
 */
public record EmbeddingJob(String model, String backend, String adapter, int maxLength, int batchSize)
        implements Serializable {

    public EmbeddingJob {
        if (model == null || backend == null) {
            throw new PeftException("an embedding job needs a model and a backend");
        }
        if (maxLength < 2 || batchSize < 1) {
            throw new PeftException("max length must be at least 2 and batch size positive, got " + maxLength + " and "
                    + batchSize);
        }
    }
}
