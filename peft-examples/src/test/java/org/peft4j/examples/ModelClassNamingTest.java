package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.config.TaskType;
import org.peft4j.api.nn.Module;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModel;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.core.io.Safetensors;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.PretrainedDecoder;
import org.peft4j.models.PretrainedEncoder;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.decoder.CausalLM;
import org.peft4j.models.task.SentenceEmbedder;
import org.peft4j.models.text.Tokenizer;
import org.peft4j.testkit.Reference;
import org.peft4j.testkit.TinyGpt2;

/**
 * Tensor names follow the model class PEFT wrapped, as in HF: an embedding adapter made on
 * {@code BertModel} is named {@code base_model.model.encoder...} and still loads where peft4j uses
 * a classifier ({@code peft embed}), and an adapter made on {@code GPT2Model} loads into the LM.
 */
class ModelClassNamingTest {
    @TempDir
    Path dir;

    @Test
    void anEmbeddingAdapterInBertModelNamingGivesTheSameEmbeddingsThroughPeftEmbed() {
        String text = "a warm, funny and surprisingly moving film";
        float[] expected;
        try (Backend b = Peft.backend("djl"); Tokenizer tok = PretrainedEncoder.load("minilm").tokenizer()) {
            BertModel bert = PretrainedEncoder.load("minilm").build(b);
            PeftModel peft = Peft.factory(b).create(bert, 3);
            peft.addAdapter("default", LoraConfig.builder().r(4).targetModules("query", "value")
                    .taskType(TaskType.FEATURE_EXTRACTION).initLoraWeights(LoraConfig.InitLoraWeights.RANDOM).build());
            peft.save(dir, "default");
            expected = new SentenceEmbedder(bert, tok, 256, 1).embed(List.of(text))[0];
        }
        assertThat(Safetensors.readShapes(dir.resolve(AdapterFiles.WEIGHTS_FILE)).keySet())
                .allMatch(k -> k.startsWith("base_model.model.encoder.layer."));
        String[] r = CliTest.run("embed", "--adapter", dir.toString(), "--text", text);
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        float[] got = CliTest.parseVector(r[1].lines().findFirst().orElseThrow());
        assertThat(Reference.maxAbsDiff(got, expected)).isLessThan(1e-5f);
    }

    @Test
    void anAdapterMadeOnGpt2ModelLoadsIntoTheLmHeadModel() {
        Path base = TinyGpt2.write(dir.resolve("base"), TinyGpt2.weights(2));
        long[] prompt = {3, 9, 14, 2};
        try (Backend b = Peft.backend("djl")) {
            CausalLM lm = PretrainedDecoder.load(b, base);
            Module inner = lm.child(lm.innerModelName(), Module.class);
            PeftModel onInner = Peft.factory(b).create(inner, 4);
            onInner.addAdapter("default", LoraConfig.builder().r(4).targetModules("c_attn").fanInFanOut(true)
                    .initLoraWeights(LoraConfig.InitLoraWeights.RANDOM).build());
            onInner.save(dir.resolve("adapter"), "default");
            long[] expected = lm.generate(prompt, 6, -1);

            assertThat(Safetensors.readShapes(dir.resolve("adapter").resolve(AdapterFiles.WEIGHTS_FILE)).keySet())
                    .allMatch(k -> k.startsWith("base_model.model.h."));
            CausalLM fresh = PretrainedDecoder.load(b, base);
            PeftModel onLm = Peft.factory(b).create(fresh, 5);
            onLm.loadAdapter("default", fresh.adapterNaming(AdapterFiles.load(dir.resolve("adapter"), Peft.registry())));
            assertThat(Arrays.equals(fresh.generate(prompt, 6, -1), expected)).isTrue();
            assertThat(Arrays.equals(PretrainedDecoder.load(b, base).generate(prompt, 6, -1), expected))
                    .as("the adapter changes the output").isFalse();
        }
    }
}
