package org.peft4j.models.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.PeftException;

/** Data files: labelled rows for classifiers, unlabelled texts for language modelling, errors with line numbers. */
class TextDatasetTest {
    @TempDir
    Path dir;

    @Test
    void readsLabelledRowsAndUnlabelledTextsInEveryFormat() throws IOException {
        Path tsv = Files.writeString(dir.resolve("d.tsv"), "sentence\tlabel\na fine film\t1\n\ndull\t0\n");
        TextDataset labelled = TextDataset.read(tsv, "sentence", null, "label");
        assertThat(labelled.examples()).extracting(Example::text).containsExactly("a fine film", "dull");
        assertThat(labelled.examples()).extracting(Example::label).containsExactly(1, 0);
        assertThat(TextDataset.read(tsv, "sentence", null, null).examples()).extracting(Example::label).containsExactly(0, 0);

        Path txt = Files.writeString(dir.resolve("t.txt"), "  the film is good \n\nthe story was long\r\n");
        assertThat(TextDataset.read(txt, "text", null, null).examples()).extracting(Example::text)
                .containsExactly("the film is good", "the story was long");

        Path jsonl = Files.writeString(dir.resolve("t.jsonl"), "{\"text\": \"one\"}\n{\"text\": \"two\", \"extra\": 3}\n");
        assertThat(TextDataset.read(jsonl, "text", null, null).size()).isEqualTo(2);
    }

    @Test
    void malformedFilesNameTheLineOrTheFormat() throws IOException {
        Path jsonl = Files.writeString(dir.resolve("t.jsonl"), "{\"text\": \"one\"}\n{\"body\": \"two\"}\n");
        assertThatThrownBy(() -> TextDataset.read(jsonl, "text", null, null))
                .isInstanceOf(PeftException.class).hasMessageContaining("t.jsonl:2:").hasMessageContaining("body");
        Path tsv = Files.writeString(dir.resolve("d.tsv"), "sentence\tlabel\nfine\tyes\n");
        assertThatThrownBy(() -> TextDataset.read(tsv, "sentence", null, "label"))
                .isInstanceOf(PeftException.class).hasMessageContaining("d.tsv:2:");
        Path empty = Files.writeString(dir.resolve("e.txt"), "\n  \n");
        assertThatThrownBy(() -> TextDataset.read(empty, "text", null, null)).isInstanceOf(PeftException.class);
        Path doc = Files.writeString(dir.resolve("x.docx"), "x");
        assertThatThrownBy(() -> TextDataset.read(doc, "text", null, null))
                .isInstanceOf(PeftException.class).hasMessageContaining(".txt");
    }
}
