package org.peft4j.serve;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.core.PeftModel;
import org.peft4j.core.tuner.RowAdapters;
import org.peft4j.models.bert.BertModel;
import org.peft4j.models.bert.PackedBatch;
import org.peft4j.models.decoder.CausalLM;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The threads that run the model ({@link ServeOptions#workers}, one by default). Cross-adapter batching: rows of every
 * request, whatever adapter they name, wait in one queue; a free worker takes what arrives within {@code maxWaitMs} of
 * the first (up to {@code maxBatchRows}),
 * sorts it by length, cuts it where the padded length would jump to the next bucket, and runs each
 * part as one mixed-adapter forward pass ({@link PeftModel#withRowAdapters}) over the rows packed
 * back to back ({@link PackedBatch}: no padding between them; each token routed to its row's
 * adapter). Each row gets what it would get alone: its adapter's sentence embedding or its head's
 * class probabilities.
 * Completions of a decoder run one at a time on a worker, between its batches.
 */
final class Batcher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Batcher.class);
    /**
     * Rows up to this many tokens share a forward pass whatever their lengths; longer ones go by
     * power-of-two length, so the packed sequences of a pass (all as long as the longest) end close together.
     */
    private static final int SMALLEST_BUCKET = 32;
    /**
     * Most positions in one packed sequence: attention's cost grows with it (at 128, ~5 % of a
     * MiniLM layer's work per token), the padding it saves does not.
     */
    private static final int PACK_CAPACITY = 128;

    /**
     * One input of a request.
     *
     * @param adapter whose weights it runs through (a use taken with {@link ServedAdapters#acquire})
     * @param ids its token ids, special tokens included, truncated (tokenized once, by the request's thread)
     * @param types its token types
     * @param classify class probabilities (true) or the sentence embedding (false)
     * @param result completed by the worker that ran it
     */
    record Row(ServedAdapters.Served adapter, long[] ids, long[] types, boolean classify, CompletableFuture<float[]> result)
            implements Work {
        int tokens() {
            return ids.length;
        }
    }

    /**
     * A greedy completion of a decoder base model: runs alone (one row), between batches.
     *
     * @param prompt token ids
     * @param maxTokens most tokens to generate
     * @param result the generated ids, a stop id included
     */
    record Generation(ServedAdapters.Served adapter, long[] prompt, int maxTokens, CompletableFuture<long[]> result)
            implements Work {
    }

    /** What a worker runs. */
    sealed interface Work permits Row, Generation {
    }

    private final PeftModel peft;
    private final BertModel bert;
    private final CausalLM lm;
    private final ServedAdapters adapters;
    private final Metrics metrics;
    private final int maxBatchRows;
    private final long maxWaitNanos;
    private final int maxQueue;
    private final LinkedBlockingQueue<Work> queue = new LinkedBlockingQueue<>();
    private final AtomicInteger pending = new AtomicInteger();
    private final List<Thread> workers = new ArrayList<>();
    private volatile boolean stopping;

    /**
     * @param bert the encoder embeddings and classification run on, or null for a decoder
     * @param lm the decoder completions run on, or null for an encoder
     */
    Batcher(PeftModel peft, BertModel bert, CausalLM lm, ServedAdapters adapters, Metrics metrics,
            ServeOptions options) {
        this.peft = peft;
        this.bert = bert;
        this.lm = lm;
        this.adapters = adapters;
        this.metrics = metrics;
        this.maxBatchRows = options.maxBatchRows();
        this.maxWaitNanos = TimeUnit.MILLISECONDS.toNanos(options.maxWaitMs());
        this.maxQueue = options.maxQueue();
        for (int i = 0; i < options.workers(); i++) {
            Thread worker = new Thread(this::loop, "peft-batcher-" + i);
            worker.setDaemon(true);
            worker.start();
            workers.add(worker);
        }
    }

    /** Queues all of {@code rows} (or one generation) or none: 429 when they do not fit, 503 once stopping. */
    void submit(List<? extends Work> rows) {
        if (stopping) {
            throw ApiError.shuttingDown();
        }
        int n = rows.size();
        while (true) {
            int now = pending.get();
            if (now + n > maxQueue) {
                throw ApiError.queueFull("the queue holds " + now + " rows and takes at most " + maxQueue
                        + " (--max-queue); retry later");
            }
            if (pending.compareAndSet(now, now + n)) {
                break;
            }
        }
        queue.addAll(rows);
        metrics.queueDepth(pending.get());
    }

    /** Rows queued and not yet taken. */
    int pending() {
        return pending.get();
    }

    private void loop() {
        while (!stopping || !queue.isEmpty()) {
            try {
                Work first = queue.poll(50, TimeUnit.MILLISECONDS);
                adapters.reap();
                if (first == null) {
                    continue;
                }
                List<Row> batch = new ArrayList<>();
                List<Generation> generations = new ArrayList<>();
                add(first, batch, generations);
                long deadline = System.nanoTime() + maxWaitNanos;
                while (first instanceof Row && batch.size() < maxBatchRows) {
                    long left = deadline - System.nanoTime();
                    Work next = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : queue.poll();
                    if (next == null) {
                        break;
                    }
                    add(next, batch, generations);
                }
                metrics.queueDepth(pending.addAndGet(-batch.size() - generations.size()));
                if (!batch.isEmpty()) {
                    run(batch);
                }
                generations.forEach(this::generate);
                adapters.reap();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (RuntimeException e) {
                LOG.error("batching loop: {}", e.toString(), e);
            }
        }
        for (Work w; (w = queue.poll()) != null; ) {
            (w instanceof Row r ? r.result() : ((Generation) w).result()).completeExceptionally(ApiError.shuttingDown());
        }
    }

    private static void add(Work w, List<Row> rows, List<Generation> generations) {
        if (w instanceof Row r) {
            rows.add(r);
        } else {
            generations.add((Generation) w);
        }
    }

    private void generate(Generation g) {
        try {
            long[] ids = peft.withRowAdapters(List.of(g.adapter().internal()),
                    () -> lm.generate(g.prompt(), g.maxTokens(), lm.eosTokenIds()));
            g.result().complete(ids);
        } catch (RuntimeException e) {
            LOG.warn("generation failed: {}", e.toString());
            g.result().completeExceptionally(e);
        }
    }

    /** Runs {@code batch} as few length-bucketed forward passes. */
    private void run(List<Row> batch) {
        batch.sort(Comparator.comparingInt(Row::tokens));
        int start = 0;
        for (int i = 1; i <= batch.size(); i++) {
            if (i == batch.size() || bucket(batch.get(i).tokens()) != bucket(batch.get(start).tokens())) {
                forward(batch.subList(start, i));
                start = i;
            }
        }
    }

    private static int bucket(int tokens) {
        return tokens <= SMALLEST_BUCKET ? SMALLEST_BUCKET : Integer.highestOneBit(tokens - 1) << 1;
    }

    private void forward(List<Row> rows) {
        long start = System.nanoTime();
        Backend b = bert.backend();
        try (Scope s = b.scope()) {
            PackedBatch packed = PackedBatch.of(rows.stream().map(Row::ids).toList(), rows.stream().map(Row::types).toList(),
                    PACK_CAPACITY);
            List<String> route = rows.stream().map(r -> r.adapter().internal()).toList();
            boolean anyCls = rows.stream().anyMatch(r -> r.classify() && r.adapter().head().clsPooler());
            Tensor h = peft.withRowAdapters(packed.perPosition(route, RowAdapters.BASE), () -> bert.forward(packed));
            // the pooler may carry the rows' adapters (LoRA on "dense"): one row each now
            Tensor[] pooled = {packed.meanPooled(h),
                    anyCls ? peft.withRowAdapters(route, () -> bert.poolFirst(packed.firstTokens(h))) : null};
            int hidden = (int) pooled[0].size(1);
            float[] mean = pooled[0].toFloatArray();
            float[] cls = anyCls ? pooled[1].toFloatArray() : null;
            float[] unit = rows.stream().allMatch(Row::classify) ? null
                    : BertModel.l2Normalize(pooled[0]).toFloatArray();
            for (int i = 0; i < rows.size(); i++) {
                Row r = rows.get(i);
                float[] out;
                if (r.classify()) {
                    ServedAdapters.Head head = r.adapter().head();
                    out = head.probabilities(head.clsPooler() ? cls : mean, i * hidden);
                } else {
                    out = new float[hidden];
                    System.arraycopy(unit, i * hidden, out, 0, hidden);
                }
                r.result().complete(out);
            }
        } catch (RuntimeException e) {
            LOG.warn("forward pass of {} rows failed: {}", rows.size(), e.toString());
            rows.forEach(r -> r.result().completeExceptionally(e));
        }
        metrics.batch(rows.size(), (System.nanoTime() - start) / 1e9);
    }

    /** Stops taking requests, finishes the queued rows (waiting up to {@code timeoutMs}) and stops the workers. */
    void drain(long timeoutMs) {
        stopping = true;
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        try {
            for (Thread worker : workers) {
                worker.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        drain(30_000);
    }
}
