package org.peft4j.examples.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import org.peft4j.core.PeftModel;
import org.peft4j.core.io.PeftJson;
import org.peft4j.models.task.TextClassifier;

/** The one JSON object {@code train} and {@code eval} print last, built field by field. */
final class Report {
    private final ObjectNode json = PeftJson.mapper().createObjectNode();

    Report put(String key, String value) {
        json.put(key, value);
        return this;
    }

    Report put(String key, long value) {
        json.put(key, value);
        return this;
    }

    Report put(String key, double value) {
        json.put(key, Math.round(value * 10000.0) / 10000.0);
        return this;
    }

    Report evaluation(TextClassifier.Evaluation ev, double seconds) {
        return put("accuracy", ev.accuracy()).put("eval_loss", ev.loss()).put("eval_examples", ev.examples())
                .put("eval_seconds", seconds);
    }

    Report parameters(PeftModel.ParameterCount count) {
        return put("trainable_params", count.trainable()).put("total_params", count.total())
                .put("trainable_percent", count.percent());
    }

    /** Adds the memory peaks and prints the object as the last line. */
    void print(PrintWriter out) {
        put("peak_heap_mb", Memory.peakHeapMb()).put("peak_rss_mb", Memory.peakRssMb());
        try {
            out.println(PeftJson.mapper().writeValueAsString(json));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        out.flush();
    }
}
