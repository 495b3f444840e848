package org.peft4j.models.bert;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Tensor;

/**
 * Texts packed back to back into a few sequences, for inference without padding between them:
 * each text keeps its own positions (0, 1, ...) and attends only to its own tokens, so it gets the
 * hidden states it would get alone. A rectangular batch pads every text to the longest; on short
 * texts of mixed lengths that is half the work (11 texts of 3 to 22 tokens: 120 positions packed
 * instead of 11 x 22 = 242 padded). Only the tail of each sequence is padding.
 *
 * <p>Made by {@link #of}, run by {@link BertModel#forward(PackedBatch)}; {@link #meanPooled} and
 * {@link #firstTokens} read each text's result back out. Per-text adapters route by position:
 * {@link #perPosition}.
 */
public final class PackedBatch {
    private final int sequences;
    private final int length;
    private final long[] ids;
    private final long[] types;
    private final long[] positions;
    /** Flattened position of each text's first token. */
    private final long[] starts;
    private final int[] lengths;
    /** For each flattened position, the text it belongs to, or -1 for tail padding. */
    private final int[] owner;

    private PackedBatch(int sequences, int length, long[] ids, long[] types, long[] positions, long[] starts, int[] lengths,
            int[] owner) {
        this.sequences = sequences;
        this.length = length;
        this.ids = ids;
        this.types = types;
        this.positions = positions;
        this.starts = starts;
        this.lengths = lengths;
        this.owner = owner;
    }

    /**
     * Packs texts into as few sequences as {@code capacity} allows, balanced so the longest (which
     * sets the padded length of all) is short: longest text first, each into the emptiest sequence.
     *
     * @param ids each text's token ids, special tokens included
     * @param types each text's token types, as long as its ids
     * @param capacity most positions in one sequence; a longer text gets a sequence of its own length.
     *     Attention costs grow with its square, so a few hundred at most (the server uses 128)
     */
    public static PackedBatch of(List<long[]> ids, List<long[]> types, int capacity) {
        if (ids.isEmpty() || ids.size() != types.size() || capacity < 1) {
            throw new PeftException("a packed batch needs at least one text, token types for each and a positive capacity; got "
                    + ids.size() + " texts, " + types.size() + " type arrays, capacity " + capacity);
        }
        int n = ids.size();
        long tokens = 0;
        int longest = 0;
        for (int i = 0; i < n; i++) {
            if (ids.get(i).length == 0 || ids.get(i).length != types.get(i).length) {
                throw new PeftException("text " + i + " has " + ids.get(i).length + " token ids and "
                        + types.get(i).length + " token types; both must be equal and positive");
            }
            longest = Math.max(longest, ids.get(i).length);
            tokens += ids.get(i).length;
        }
        int room = Math.max(capacity, longest);
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (x, y) -> Integer.compare(ids.get(y).length, ids.get(x).length));
        List<Integer> used = new ArrayList<>();
        for (long k = 0; k < (tokens + room - 1) / room; k++) {
            used.add(0);
        }
        int[] sequenceOf = new int[n];
        int[] offsetIn = new int[n];
        for (int i : order) {
            int len = ids.get(i).length;
            int best = -1;
            for (int s = 0; s < used.size(); s++) {
                if (used.get(s) + len <= room && (best < 0 || used.get(s) < used.get(best))) {
                    best = s;
                }
            }
            if (best < 0) {
                used.add(0);
                best = used.size() - 1;
            }
            sequenceOf[i] = best;
            offsetIn[i] = used.get(best);
            used.set(best, used.get(best) + len);
        }
        int sequences = used.size();
        int length = used.stream().mapToInt(Integer::intValue).max().orElseThrow();
        int total = sequences * length;
        long[] flatIds = new long[total];
        long[] flatTypes = new long[total];
        long[] flatPositions = new long[total];
        int[] owner = new int[total];
        Arrays.fill(owner, -1);
        long[] starts = new long[n];
        int[] lengths = new int[n];
        for (int i = 0; i < n; i++) {
            int start = sequenceOf[i] * length + offsetIn[i];
            long[] t = ids.get(i);
            System.arraycopy(t, 0, flatIds, start, t.length);
            System.arraycopy(types.get(i), 0, flatTypes, start, t.length);
            for (int p = 0; p < t.length; p++) {
                flatPositions[start + p] = p;
                owner[start + p] = i;
            }
            starts[i] = start;
            lengths[i] = t.length;
        }
        return new PackedBatch(sequences, length, flatIds, flatTypes, flatPositions, starts, lengths, owner);
    }

    /** Number of texts. */
    public int texts() {
        return lengths.length;
    }

    /** (sequences, length): the shape of the ids, and of the hidden states but their last axis. */
    public long[] shape() {
        return new long[] {sequences, length};
    }

    /** The longest text, in tokens: the highest position used is one less. */
    public int longestText() {
        return Arrays.stream(lengths).max().orElseThrow();
    }

    /** Token ids, (sequences, length) INT64; tail padding is id 0. */
    public Tensor inputIds(Backend b) {
        return b.fromLongs(ids, sequences, length);
    }

    /** Token types, (sequences, length) INT64. */
    public Tensor tokenTypeIds(Backend b) {
        return b.fromLongs(types, sequences, length);
    }

    /** Each token's position within its own text, (sequences, length) INT64. */
    public Tensor positionIds(Backend b) {
        return b.fromLongs(positions, sequences, length);
    }

    /**
     * Which keys each query sees, (sequences, length, length) FLOAT32: 1 where both positions belong
     * to the same text. A padding query sees itself only, so its softmax stays finite.
     */
    public Tensor attentionMask(Backend b) {
        float[] mask = new float[sequences * length * length];
        for (int s = 0; s < sequences; s++) {
            for (int q = 0; q < length; q++) {
                int fq = s * length + q;
                int base = fq * length;
                if (owner[fq] < 0) {
                    mask[base + q] = 1f;
                    continue;
                }
                int first = (int) starts[owner[fq]] - s * length;
                Arrays.fill(mask, base + first, base + first + lengths[owner[fq]], 1f);
            }
        }
        return b.fromFloats(mask, sequences, length, length);
    }

    /**
     * One name per position from one per text ({@code PeftModel.withRowAdapters} then routes every
     * token to its text's adapter); tail padding gets {@code padding}.
     */
    public List<String> perPosition(List<String> perText, String padding) {
        if (perText.size() != texts()) {
            throw new PeftException(perText.size() + " names for a packed batch of " + texts() + " texts");
        }
        List<String> out = new ArrayList<>(owner.length);
        for (int o : owner) {
            out.add(o < 0 ? padding : perText.get(o));
        }
        return out;
    }

    /**
     * Each text's hidden states averaged over its tokens: (texts, hidden), from (sequences, length,
     * hidden). Each text's states are gathered into a row of the longest text's length (shorter ones
     * topped up with a zero state), summed in order, then divided by the text's length: memory
     * grows with texts x longest text, as a padded batch's, and the sum runs in a padded batch's order.
     */
    public Tensor meanPooled(Tensor hidden) {
        int total = owner.length;
        int longest = longestText();
        long[] at = new long[texts() * longest];
        float[] inverse = new float[texts()];
        for (int i = 0; i < texts(); i++) {
            for (int p = 0; p < longest; p++) {
                at[i * longest + p] = p < lengths[i] ? starts[i] + p : total; // row `total`: the zero state
            }
            inverse[i] = 1f / lengths[i];
        }
        Backend b = hidden.backend();
        long h = hidden.size(-1);
        Tensor table = b.concat(List.of(hidden.reshape(total, h), b.zeros(1, h)), 0);
        return table.gather(b.fromLongs(at, texts(), longest)).sum(false, 1).mul(b.fromFloats(inverse, texts(), 1));
    }

    /** Each text's first token's hidden state ([CLS] for BERT): (texts, hidden). */
    public Tensor firstTokens(Tensor hidden) {
        long h = hidden.size(-1);
        Tensor at = hidden.backend().fromLongs(starts, starts.length);
        return hidden.reshape(owner.length, h).gather(at);
    }

    @Override
    public String toString() {
        return "PackedBatch[" + texts() + " texts in " + sequences + " x " + length + "]";
    }
}
