package org.peft4j.langchain4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.store.embedding.EmbeddingSearchRequest;
import dev.langchain4j.store.embedding.EmbeddingSearchResult;
import dev.langchain4j.store.embedding.inmemory.InMemoryEmbeddingStore;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.bert.BertForSequenceClassification;
import org.peft4j.testkit.Reference;

/** peft4j's MiniLM, with and without an adapter, as a LangChain4j embedding model. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PeftEmbeddingModelTest {
    private static final List<String> DOCS = List.of(
            "The cat sat on the warm windowsill all afternoon.",
            "Stock markets fell sharply after the central bank raised interest rates.",
            "Whisk the eggs with sugar, then fold in the flour to make a sponge cake.",
            "The striker scored twice in the second half to win the cup final.");

    @TempDir
    Path dir;
    private Backend backend;
    private PeftEmbeddingModel base;

    @BeforeAll
    void open() {
        backend = Peft.backend("djl");
        base = PeftEmbeddingModel.builder().backend(backend).build();
    }

    @AfterAll
    void close() {
        base.close();
        backend.close();
    }

    @Test
    void itRetrievesTheDocumentAQueryIsAbout() {
        InMemoryEmbeddingStore<TextSegment> store = new InMemoryEmbeddingStore<>();
        List<TextSegment> segments = DOCS.stream().map(TextSegment::from).toList();
        store.addAll(base.embedAll(segments).content(), segments);
        String[][] queries = {{"What happened to share prices?", DOCS.get(1)},
                {"How do I bake a cake?", DOCS.get(2)}, {"Who won the football match?", DOCS.get(3)},
                {"Where was the kitten resting?", DOCS.get(0)}};
        for (String[] q : queries) {
            EmbeddingSearchResult<TextSegment> found = store.search(EmbeddingSearchRequest.builder()
                    .queryEmbedding(base.embed(q[0]).content()).maxResults(1).build());
            assertThat(found.matches().get(0).embedded().text()).as(q[0]).isEqualTo(q[1]);
        }
    }

    @Test
    void embedAllRunsBatchesThatAgreeWithOneTextAtATime() {
        List<Embedding> all;
        try (PeftEmbeddingModel small = PeftEmbeddingModel.builder().backend(backend).batchSize(3).build()) {
            all = small.embedAll(DOCS.stream().map(TextSegment::from).toList()).content();
        }
        assertThat(all).hasSize(DOCS.size());
        for (int i = 0; i < DOCS.size(); i++) {
            float[] one = base.embed(DOCS.get(i)).content().vector();
            assertThat(Reference.maxAbsDiff(all.get(i).vector(), one)).isLessThan(1e-5f);
            assertThat(norm(one)).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
        }
        assertThat(base.dimension()).isEqualTo(384);
        assertThat(base.modelName()).isEqualTo("all-MiniLM-L6-v2");
    }

    @Test
    void anAdapterFolderChangesTheEmbeddingsAsThePeftModelDoes() {
        // a LoRA adapter with random A and B (not a no-op), saved in HF PEFT's layout
        PeftModel peft = Peft.factory(backend).create(PretrainedEncoder.load("minilm").classifier(backend, 2, 42), 7);
        peft.addAdapter("default", LoraConfig.builder().r(4).targetModules("query", "value")
                .initLoraWeights(LoraConfig.InitLoraWeights.RANDOM).build());
        peft.save(dir, "default");
        try (PeftEmbeddingModel adapted = PeftEmbeddingModel.builder().backend(backend).adapter(dir).build()) {
            assertThat(adapted.modelName()).startsWith("all-MiniLM-L6-v2+");
            float[] withAdapter = adapted.embed(DOCS.get(0)).content().vector();
            float[] plain = base.embed(DOCS.get(0)).content().vector();
            assertThat(Reference.maxAbsDiff(withAdapter, plain)).isGreaterThan(1e-3f);
            float[] viaPeft = new org.peft4j.models.task.SentenceEmbedder(
                    ((BertForSequenceClassification) peft.model()).bert(), PretrainedEncoder.load("minilm").tokenizer(), 256, 8)
                    .embed(List.of(DOCS.get(0)))[0];
            assertThat(Reference.maxAbsDiff(withAdapter, viaPeft)).isLessThan(1e-5f);
        }
    }

    @Test
    void badOptionsAreClearErrors() {
        assertThatThrownBy(() -> PeftEmbeddingModel.builder().backend(backend).batchSize(0).build())
                .isInstanceOf(PeftException.class).hasMessageContaining("batchSize");
        assertThatThrownBy(() -> PeftEmbeddingModel.builder().backend(backend).adapter(dir.resolve("none")).build())
                .isInstanceOf(PeftException.class).hasMessageContaining("adapter folder");
    }

    private static double norm(float[] v) {
        double s = 0;
        for (float x : v) {
            s += x * x;
        }
        return Math.sqrt(s);
    }
}
