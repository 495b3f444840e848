package org.peft4j.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import org.peft4j.models.data.Example;

/** A slice of a batch as it travels to a task: texts, optional pair texts and labels. */
record Rows(String[] texts, String[] pairs, int[] labels) implements Serializable {

    static Rows of(List<Example> examples) {
        int n = examples.size();
        String[] texts = new String[n];
        String[] pairs = new String[n];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            texts[i] = examples.get(i).text();
            pairs[i] = examples.get(i).pair();
            labels[i] = examples.get(i).label();
        }
        return new Rows(texts, pairs, labels);
    }

    List<Example> examples() {
        List<Example> out = new ArrayList<>(texts.length);
        for (int i = 0; i < texts.length; i++) {
            out.add(new Example(texts[i], pairs[i], labels[i]));
        }
        return out;
    }
}
