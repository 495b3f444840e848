package org.peft4j.spark;

import java.io.Serializable;
import org.peft4j.api.PeftException;

/**
 * What every worker builds, once per executor JVM: the model, the adapter (by its config) and how
 * to read text, as {@code peft train} builds them on the driver. Sent to tasks with each step.
 *
 * @param model {@code minilm}, a Hugging Face folder or a cached model id, as the executors see it
 * @param backend the backend name ({@code djl}, {@code nd4j})
 * @param adapterConfig the adapter's {@code adapter_config.json} text
 * @param numLabels classes of the classification head
 * @param seed seeds the head and adapter initialisation (the driver's and the workers' are equal) and dropout
 * @param maxLength longest token sequence
 * @param pooling what the head reads ({@code cls_pooler} or {@code mean}); null for the model's default
 */
public record ClassifierJob(String model, String backend, String adapterConfig, int numLabels, long seed, int maxLength,
        String pooling) implements Serializable {

    public ClassifierJob {
        if (model == null || backend == null || adapterConfig == null) {
            throw new PeftException("a Spark job needs a model, a backend and an adapter config");
        }
        if (numLabels < 2 || maxLength < 2) {
            throw new PeftException("a Spark job needs at least 2 labels and a max length of at least 2, got "
                    + numLabels + " and " + maxLength);
        }
    }
}
