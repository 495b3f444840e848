package org.peft4j.models.text;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.util.PairList;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.peft4j.api.PeftException;

/**
 * A Hugging Face fast tokenizer ({@code tokenizer.json}) that turns texts into padded id batches for an encoder.
 * Backed by DJL's binding of the Rust {@code tokenizers} library, loaded from a stream or a file only: nothing is
 * downloaded (the native library is unpacked from the DJL jar, and DJL's offline mode is switched on unless the
 * {@code ai.djl.offline} system property is already set).
 *
 * <p>Special tokens ([CLS]/[SEP] for BERT) and token type ids follow the file's post-processor. Truncation follows
 * the Hugging Face rules (special tokens are kept; pairs are truncated longest-first). The padding and truncation the
 * file itself configures are ignored: batches are padded here, to their longest sequence, with the file's pad id.
 *
 * <p>One native tokenizer is kept per distinct {@code maxLength} used; {@link #close()} releases them all.
 * Instances are safe for concurrent use until closed.
 */
public final class Tokenizer implements AutoCloseable {

    static {
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
    }

    private final String json;
    private final int vocabSize;
    private final long padId;
    private final long padTypeId;
    private final Map<Integer, HuggingFaceTokenizer> byMaxLength = new ConcurrentHashMap<>();
    private volatile boolean closed;

    private Tokenizer(String json) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (IOException e) {
            throw new PeftException("tokenizer.json is not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject() || !root.has("model")) {
            throw new PeftException("tokenizer.json has no 'model' section; is it a Hugging Face fast-tokenizer file?");
        }
        this.json = json;
        this.vocabSize = vocabSize(root);
        JsonNode padding = root.path("padding");
        long pad = padding.path("pad_id").asLong(-1);
        this.padId = pad >= 0 ? pad : tokenId(root, "[PAD]", "<pad>", "<PAD>");
        this.padTypeId = padding.path("pad_type_id").asLong(0);
        // Fail now, not on first use, if the file does not load.
        native_(0);
    }

    /** A tokenizer from the contents of a {@code tokenizer.json}; the stream is read to its end and not closed. */
    public static Tokenizer fromJson(InputStream tokenizerJson) {
        try {
            return new Tokenizer(new String(tokenizerJson.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new PeftException("cannot read tokenizer.json: " + e.getMessage(), e);
        }
    }

    /** A tokenizer from a {@code tokenizer.json} file, or a directory holding one. */
    public static Tokenizer fromFile(Path tokenizerJson) {
        Path file = Files.isDirectory(tokenizerJson) ? tokenizerJson.resolve("tokenizer.json") : tokenizerJson;
        try {
            return new Tokenizer(Files.readString(file));
        } catch (IOException e) {
            throw new PeftException("cannot read tokenizer file " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Token ids for a batch of texts.
     *
     * @param texts one text per row
     * @param maxLength most tokens per row, special tokens included; longer texts are truncated
     * @return the ids, padded to the longest row
     */
    public Batch encode(List<String> texts, int maxLength) {
        checkMaxLength(maxLength, 2);
        if (texts.isEmpty()) {
            return Batch.EMPTY;
        }
        String[] array = texts.toArray(String[]::new);
        for (int i = 0; i < array.length; i++) {
            if (array[i] == null) {
                throw new PeftException("text " + i + " of the batch is null");
            }
        }
        try {
            return pad(native_(maxLength).batchEncode(array, true, false));
        } catch (RuntimeException e) {
            throw wrap(e, maxLength);
        }
    }

    /**
     * Token ids for a batch of text pairs (for example premise and hypothesis), as {@code [CLS] a [SEP] b [SEP]} for
     * BERT with token type 1 on the second segment.
     *
     * @param first first text of each pair
     * @param second second text of each pair; same size as {@code first}
     * @param maxLength most tokens per row, special tokens included; longer pairs are truncated longest-first
     * @return the ids, padded to the longest row
     */
    public Batch encodePairs(List<String> first, List<String> second, int maxLength) {
        if (first.size() != second.size()) {
            throw new PeftException("pair lists differ in size: " + first.size() + " first texts, " + second.size()
                    + " second texts");
        }
        checkMaxLength(maxLength, 3);
        if (first.isEmpty()) {
            return Batch.EMPTY;
        }
        PairList<String, String> pairs = new PairList<>(first.size());
        for (int i = 0; i < first.size(); i++) {
            if (first.get(i) == null || second.get(i) == null) {
                throw new PeftException("pair " + i + " of the batch has a null text");
            }
            pairs.add(first.get(i), second.get(i));
        }
        try {
            return pad(native_(maxLength).batchEncode(pairs, true, false));
        } catch (RuntimeException e) {
            throw wrap(e, maxLength);
        }
    }

    /** The tokens of one text, special tokens included and without truncation, for inspection. */
    public List<String> tokens(String text) {
        return List.of(native_(0).encode(text, true, false).getTokens());
    }

    /** Text for ids, special tokens skipped. */
    public String decode(long[] ids) {
        return native_(0).decode(ids, true);
    }

    /** Size of the vocabulary: one more than the highest id in the model and the added tokens. */
    public int vocabSize() {
        return vocabSize;
    }

    /** Id used for padding. */
    public long padId() {
        return padId;
    }

    @Override
    public void close() {
        closed = true;
        for (Iterator<HuggingFaceTokenizer> it = byMaxLength.values().iterator(); it.hasNext(); ) {
            it.next().close();
            it.remove();
        }
    }

    private void checkMaxLength(int maxLength, int specials) {
        if (maxLength < specials) {
            throw new PeftException("maxLength " + maxLength + " is too small; it counts special tokens and must be at "
                    + "least " + specials);
        }
    }

    private static PeftException wrap(RuntimeException e, int maxLength) {
        return e instanceof PeftException p ? p
                : new PeftException("tokenization failed (maxLength " + maxLength + "): " + e.getMessage(), e);
    }

    /** The native tokenizer truncating to {@code maxLength} (0: no truncation), never padding. */
    private HuggingFaceTokenizer native_(int maxLength) {
        if (closed) {
            throw new PeftException("tokenizer is closed");
        }
        return byMaxLength.computeIfAbsent(maxLength, n -> {
            Map<String, String> options = n > 0
                    ? Map.of("addSpecialTokens", "true", "padding", "false", "truncation", "true",
                            "maxLength", Integer.toString(n), "modelMaxLength", Integer.toString(n), "stride", "0",
                            "padToMultipleOf", "0")
                    : Map.of("addSpecialTokens", "true", "padding", "false", "truncation", "false");
            try {
                return HuggingFaceTokenizer.newInstance(
                        new ByteArrayInputStream(json.getBytes(java.nio.charset.StandardCharsets.UTF_8)), options);
            } catch (IOException | RuntimeException e) {
                throw new PeftException("cannot load tokenizer.json: " + e.getMessage(), e);
            }
        });
    }

    private Batch pad(Encoding[] encodings) {
        List<long[]> ids = new java.util.ArrayList<>(encodings.length);
        List<long[]> types = new java.util.ArrayList<>(encodings.length);
        for (Encoding e : encodings) {
            ids.add(e.getIds());
            types.add(e.getTypeIds());
        }
        return pad(ids, types);
    }

    /**
     * Rows encoded earlier (by {@link Batch#ids} and {@link Batch#types}) as one batch padded to the
     * longest, as {@link #encode} pads: so texts tokenized once can be batched in another grouping.
     *
     * @param ids each row's token ids, without padding
     * @param types each row's token types, the same lengths as {@code ids}
     */
    public Batch pad(List<long[]> ids, List<long[]> types) {
        int seqLen = 0;
        for (int b = 0; b < ids.size(); b++) {
            if (types.get(b).length != ids.get(b).length) {
                throw new PeftException("row " + b + " has " + ids.get(b).length + " ids and " + types.get(b).length
                        + " token types");
            }
            seqLen = Math.max(seqLen, ids.get(b).length);
        }
        return pad(ids, types, seqLen);
    }

    /** Rows (each with as many ids as types, none longer than {@code seqLen}) padded to {@code seqLen}. */
    private Batch pad(List<long[]> ids, List<long[]> types, int seqLen) {
        int batch = ids.size();
        long[] allIds = new long[batch * seqLen];
        long[] mask = new long[batch * seqLen];
        long[] allTypes = new long[batch * seqLen];
        for (int b = 0; b < batch; b++) {
            long[] rowIds = ids.get(b);
            int base = b * seqLen;
            System.arraycopy(rowIds, 0, allIds, base, rowIds.length);
            System.arraycopy(types.get(b), 0, allTypes, base, rowIds.length);
            Arrays.fill(mask, base, base + rowIds.length, 1L);
            Arrays.fill(allIds, base + rowIds.length, base + seqLen, padId);
            Arrays.fill(allTypes, base + rowIds.length, base + seqLen, padTypeId);
        }
        return new Batch(allIds, mask, allTypes, batch, seqLen);
    }

    /**
     * {@code batch} with more padding columns, so that its length is a multiple of {@code multiple}
     * but not beyond {@code maxLength} (nor shorter than it was): a backend that keeps one graph per
     * input shape then sees only a few shapes. The rows' tokens and masks are unchanged.
     */
    public Batch padToMultiple(Batch batch, int multiple, int maxLength) {
        if (multiple < 1) {
            throw new PeftException("length multiple must be >= 1, got " + multiple);
        }
        long rounded = ((long) batch.seqLen() + multiple - 1) / multiple * multiple;
        int seqLen = (int) Math.max(batch.seqLen(), Math.min(rounded, maxLength));
        if (seqLen == batch.seqLen() || batch.batchSize() == 0) {
            return batch;
        }
        List<long[]> ids = new java.util.ArrayList<>(batch.batchSize());
        List<long[]> types = new java.util.ArrayList<>(batch.batchSize());
        for (int r = 0; r < batch.batchSize(); r++) {
            ids.add(batch.ids(r));
            types.add(batch.types(r));
        }
        return pad(ids, types, seqLen);
    }

    private static int vocabSize(JsonNode root) {
        long max = -1;
        JsonNode vocab = root.path("model").path("vocab");
        if (vocab.isObject()) {
            for (Iterator<JsonNode> it = vocab.elements(); it.hasNext(); ) {
                max = Math.max(max, it.next().asLong(-1));
            }
        } else if (vocab.isArray()) { // Unigram: [[piece, score], ...], ids are positions
            max = vocab.size() - 1;
        }
        for (JsonNode added : root.path("added_tokens")) {
            max = Math.max(max, added.path("id").asLong(-1));
        }
        return (int) (max + 1);
    }

    private static long tokenId(JsonNode root, String... candidates) {
        for (String token : candidates) {
            for (JsonNode added : root.path("added_tokens")) {
                if (token.equals(added.path("content").asText())) {
                    return added.path("id").asLong();
                }
            }
            JsonNode id = root.path("model").path("vocab").path(token);
            if (id.isNumber()) {
                return id.asLong();
            }
        }
        return 0;
    }

    /**
     * A batch of token ids, row-major with shape (batchSize, seqLen), padded to the longest row. The arrays belong
     * to the batch and are not copied.
     *
     * @param inputIds token ids; padding positions hold the pad id
     * @param attentionMask 1 for tokens, 0 for padding
     * @param tokenTypeIds segment of each token (0, or 1 for the second text of a pair); 0 on padding
     * @param batchSize rows
     * @param seqLen columns: the longest row's length
     */
    public record Batch(long[] inputIds, long[] attentionMask, long[] tokenTypeIds, int batchSize, int seqLen) {

        static final Batch EMPTY = new Batch(new long[0], new long[0], new long[0], 0, 0);

        public Batch {
            long n = (long) batchSize * seqLen;
            if (batchSize < 0 || seqLen < 0 || inputIds.length != n || attentionMask.length != n
                    || tokenTypeIds.length != n) {
                throw new PeftException("batch of " + batchSize + " x " + seqLen + " needs " + n + " ids, masks and "
                        + "types; got " + inputIds.length + ", " + attentionMask.length + ", " + tokenTypeIds.length);
            }
        }

        /** {@code {batchSize, seqLen}}. */
        public long[] shape() {
            return new long[] {batchSize, seqLen};
        }

        /** Number of real (unpadded) tokens in {@code row}. */
        public int length(int row) {
            int n = 0;
            for (int t = 0; t < seqLen; t++) {
                n += (int) attentionMask[row * seqLen + t];
            }
            return n;
        }

        /** The ids of {@code row} without padding. */
        public long[] ids(int row) {
            return Arrays.copyOfRange(inputIds, row * seqLen, row * seqLen + length(row));
        }

        /** The token types of {@code row} without padding. */
        public long[] types(int row) {
            return Arrays.copyOfRange(tokenTypeIds, row * seqLen, row * seqLen + length(row));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Batch b && batchSize == b.batchSize && seqLen == b.seqLen
                    && Arrays.equals(inputIds, b.inputIds) && Arrays.equals(attentionMask, b.attentionMask)
                    && Arrays.equals(tokenTypeIds, b.tokenTypeIds);
        }

        @Override
        public int hashCode() {
            return 31 * (31 * Arrays.hashCode(inputIds) + Arrays.hashCode(attentionMask)) + batchSize * 7 + seqLen;
        }

        @Override
        public String toString() {
            return "Batch[" + batchSize + " x " + seqLen + "]";
        }
    }
}
