package org.peft4j.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.PeftException;

class SafetensorsTest {
    @TempDir
    Path dir;

    private static Map<String, HostTensor> sample() {
        Map<String, HostTensor> m = new LinkedHashMap<>();
        m.put("a.lora_A.weight", new HostTensor(new long[] {2, 3},
                new float[] {1f, -0f, Float.NaN, Float.MIN_VALUE, Float.MAX_VALUE, -3.5f}));
        m.put("b", new HostTensor(new long[] {4}, new float[] {0.1f, 0.2f, 0.3f, Float.NEGATIVE_INFINITY}));
        m.put("scalar", new HostTensor(new long[] {}, new float[] {7f}));
        return m;
    }

    /** A file assembled by hand from a header string and raw data, independent of our writer. */
    private static byte[] file(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        return b.array();
    }

    @Test
    void roundTripIsBitExact() {
        Path f = dir.resolve("t.safetensors");
        Safetensors.write(f, sample(), Map.of("format", "pt"));
        Safetensors.Contents c = Safetensors.readContents(f);
        assertThat(c.metadata()).containsEntry("format", "pt");
        assertThat(c.tensors().keySet()).containsExactly("a.lora_A.weight", "b", "scalar");
        sample().forEach((k, v) -> {
            float[] got = c.tensors().get(k).data();
            assertThat(got).hasSameSizeAs(v.data());
            for (int i = 0; i < got.length; i++) {
                assertThat(Float.floatToRawIntBits(got[i])).isEqualTo(Float.floatToRawIntBits(v.data()[i]));
            }
            assertThat(c.tensors().get(k).shape()).containsExactly(v.shape());
        });
    }

    @Test
    void headerLayoutIsHuggingFaces() throws IOException {
        byte[] bytes = Safetensors.toBytes(sample(), Map.of("format", "pt"));
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long n = b.getLong();
        assertThat(n % 8).isZero();
        JsonNode h = new ObjectMapper().readTree(new String(bytes, 8, (int) n, StandardCharsets.UTF_8));
        assertThat(h.get("__metadata__").get("format").asText()).isEqualTo("pt");
        JsonNode a = h.get("a.lora_A.weight");
        assertThat(a.get("dtype").asText()).isEqualTo("F32");
        assertThat(a.get("shape").toString()).isEqualTo("[2,3]");
        assertThat(a.get("data_offsets").toString()).isEqualTo("[0,24]");
        assertThat(h.get("b").get("data_offsets").toString()).isEqualTo("[24,40]");
        assertThat(bytes.length).isEqualTo(8 + n + 44);
        assertThat(b.getFloat((int) (8 + n + 24))).isEqualTo(0.1f);
    }

    @Test
    void readsHalfBfloatAndIntegerTensorsBuiltByHand() {
        ByteBuffer d = ByteBuffer.allocate(4 + 4 + 16).order(ByteOrder.LITTLE_ENDIAN);
        d.putShort((short) 0x3C00).putShort((short) 0xC000); // F16 1.0, -2.0
        d.putShort((short) 0x3F80).putShort((short) 0x4040); // BF16 1.0, 3.0
        d.putLong(-5L).putLong(1L << 40);                  // I64
        String header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                + "\"bf\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]},"
                + "\"i\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[8,24]}}";
        Map<String, HostTensor> t = Safetensors.parse(file(header, d.array())).tensors();
        assertThat(t.get("h").data()).containsExactly(1f, -2f);
        assertThat(t.get("bf").data()).containsExactly(1f, 3f);
        assertThat(t.get("i").data()).containsExactly(-5f, (float) (1L << 40));
        assertThat(Safetensors.halfToFloat((short) 0x0001)).isEqualTo(0x1p-24f);
        assertThat(Safetensors.halfToFloat((short) 0x7C00)).isEqualTo(Float.POSITIVE_INFINITY);
    }

    private static void rejects(byte[] bytes, String fragment) {
        assertThatThrownBy(() -> Safetensors.parse(bytes)).isInstanceOf(SafetensorsFormatException.class)
                .hasMessageContaining(fragment);
    }

    private static final byte[] FOUR = new byte[4];

    @Test
    void malformedFilesAreRejectedWithTheProblemNamed() {
        rejects(new byte[5], "truncated");
        ByteBuffer big = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1000);
        rejects(big.array(), "beyond the file");
        ByteBuffer huge = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(Long.MAX_VALUE);
        rejects(huge.array(), "header length");
        rejects(file("{not json", FOUR), "not valid JSON");
        rejects(file("[1,2]", FOUR), "JSON object");
        rejects(file("{\"t\":5}", FOUR), "must be an object");
        rejects(file("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", FOUR), "dtype");
        rejects(file("{\"t\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", FOUR), "Q4");
        rejects(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", FOUR), "shape");
        rejects(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", FOUR), "shape");
        rejects(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", FOUR), "data_offsets");
        rejects(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", FOUR), "outside");
        rejects(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", FOUR), "outside");
        rejects(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", FOUR), "needs 8 bytes");
        rejects(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[8]), "overlap or gap");
        rejects(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[8]), "cover");
        rejects(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", FOUR), "Duplicate");
        rejects(file("{\"__metadata__\":{\"format\":1}}", new byte[0]), "__metadata__");
    }

    @Test
    void theHeaderAloneGivesTheShapesAndIsCheckedAgainstTheFileSize() throws IOException {
        Path f = dir.resolve("t.safetensors");
        Safetensors.write(f, sample(), Map.of("format", "pt"));
        Map<String, long[]> shapes = Safetensors.readShapes(f);
        assertThat(shapes.keySet()).containsExactly("a.lora_A.weight", "b", "scalar");
        sample().forEach((k, v) -> assertThat(shapes.get(k)).containsExactly(v.shape()));
        // the same checks as a full read: a file cut short, or a header claiming more data than there is
        byte[] whole = Files.readAllBytes(f);
        Path cut = dir.resolve("cut.safetensors");
        Files.write(cut, java.util.Arrays.copyOf(whole, whole.length - 4));
        assertThatThrownBy(() -> Safetensors.readShapes(cut)).isInstanceOf(SafetensorsFormatException.class);
        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[5]);
        assertThatThrownBy(() -> Safetensors.readShapes(tiny)).isInstanceOf(SafetensorsFormatException.class)
                .hasMessageContaining("truncated");
        Path claims = dir.resolve("claims.safetensors");
        Files.write(claims, file("{\"t\":{\"dtype\":\"F32\",\"shape\":[2000000000],\"data_offsets\":[0,8000000000]}}", FOUR));
        assertThatThrownBy(() -> Safetensors.readShapes(claims)).isInstanceOf(SafetensorsFormatException.class)
                .hasMessageContaining("outside");
    }

    @Test
    void absurdShapesAreRejectedBeforeAllocating() {
        rejects(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[1000000000,1000000000],\"data_offsets\":[0,4]}}", FOUR),
                "elements");
        rejects(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[2000000000],\"data_offsets\":[0,8000000000]}}", FOUR),
                "outside");
    }

    @Test
    void seededMutationsNeverEscapeAsAnotherException() {
        byte[] valid = Safetensors.toBytes(sample(), Map.of("format", "pt"));
        SplittableRandom r = new SplittableRandom(20261124);
        int accepted = 0;
        for (int i = 0; i < 3000; i++) {
            byte[] m = valid.clone();
            switch (r.nextInt(4)) {
                case 0 -> m[r.nextInt(m.length)] ^= (byte) (1 << r.nextInt(8));
                case 1 -> m[r.nextInt(Math.min(m.length, 120))] = (byte) r.nextInt(256);
                case 2 -> m = java.util.Arrays.copyOf(m, r.nextInt(m.length));
                default -> ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN).putLong(0, r.nextLong(-4, 400));
            }
            try {
                Safetensors.parse(m);
                accepted++;
            } catch (SafetensorsFormatException expected) {
                // the one documented failure
            }
        }
        assertThat(accepted).as("some mutations only touch data bytes and stay valid").isPositive();
    }

    @Test
    void aFailedWriteLeavesThePreviousFileIntactAndNoTempFile() throws IOException {
        Path f = dir.resolve("adapter_model.safetensors");
        Safetensors.write(f, sample(), Map.of());
        byte[] before = Files.readAllBytes(f);
        // fails while serialising, before anything touches the disk
        Map<String, HostTensor> failing = new LinkedHashMap<>(sample()) {
            @Override
            public java.util.Collection<HostTensor> values() {
                throw new IllegalStateException("disk on fire");
            }
        };
        assertThatThrownBy(() -> Safetensors.write(f, failing, Map.of())).hasMessageContaining("disk on fire");
        assertThat(Files.readAllBytes(f)).isEqualTo(before);
        // fails after the bytes are staged: the target cannot be replaced (a non-empty directory)
        Path blocked = dir.resolve("blocked.safetensors");
        Files.createDirectories(blocked.resolve("inside"));
        assertThatThrownBy(() -> Safetensors.write(blocked, sample(), Map.of())).isInstanceOf(PeftException.class)
                .hasMessageContaining("blocked.safetensors");
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("adapter_model.safetensors", "blocked.safetensors");
        }
    }

    @Test
    void missingFileNamesThePath() {
        assertThatThrownBy(() -> Safetensors.read(dir.resolve("nope.safetensors"))).isInstanceOf(PeftException.class)
                .hasMessageContaining("nope.safetensors");
    }
}
