package org.peft4j.testkit;

import java.util.Map;
import org.peft4j.core.io.HostTensor;

/**
 * GPT-2's forward pass written out in plain Java loops from HF's {@code modeling_gpt2}, straight
 * from the checkpoint's tensors (Conv1D layout: y = x W + b with W (in, out)); the oracle for the
 * tensor implementation. One unpadded sequence, tied LM head, gelu_new; names as
 * {@link TinyGpt2} writes them.
 */
public final class Gpt2Reference {
    private final Map<String, HostTensor> w;
    private final int embd;
    private final int heads;
    private final int layers;

    public Gpt2Reference(Map<String, HostTensor> weights, int embd, int heads, int layers) {
        this.w = weights;
        this.embd = embd;
        this.heads = heads;
        this.layers = layers;
    }

    /** Logits (seq * vocab). */
    public float[] logits(long[] ids) {
        int seq = ids.length;
        float[][] h = new float[seq][embd];
        float[] wte = w.get("wte.weight").data();
        float[] wpe = w.get("wpe.weight").data();
        for (int t = 0; t < seq; t++) {
            for (int i = 0; i < embd; i++) {
                h[t][i] = wte[(int) ids[t] * embd + i] + wpe[t * embd + i];
            }
        }
        int d = embd / heads;
        for (int l = 0; l < layers; l++) {
            String p = "h." + l;
            float[][] a = layerNorm(h, p + ".ln_1");
            float[][] qkv = conv1d(a, p + ".attn.c_attn");
            float[][] context = new float[seq][embd];
            for (int hd = 0; hd < heads; hd++) {
                for (int i = 0; i < seq; i++) {
                    double[] scores = new double[i + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        double s = 0;
                        for (int c = 0; c < d; c++) {
                            s += qkv[i][hd * d + c] * qkv[j][embd + hd * d + c];
                        }
                        scores[j] = s / Math.sqrt(d);
                        max = Math.max(max, scores[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= i; j++) {
                        scores[j] = Math.exp(scores[j] - max);
                        sum += scores[j];
                    }
                    for (int c = 0; c < d; c++) {
                        double v = 0;
                        for (int j = 0; j <= i; j++) {
                            v += scores[j] / sum * qkv[j][2 * embd + hd * d + c];
                        }
                        context[i][hd * d + c] = (float) v;
                    }
                }
            }
            add(h, conv1d(context, p + ".attn.c_proj"));
            float[][] inner = conv1d(layerNorm(h, p + ".ln_2"), p + ".mlp.c_fc");
            for (float[] row : inner) {
                for (int i = 0; i < row.length; i++) {
                    double x = row[i];
                    row[i] = (float) (0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))));
                }
            }
            add(h, conv1d(inner, p + ".mlp.c_proj"));
        }
        float[][] out = layerNorm(h, "ln_f");
        int vocab = (int) w.get("wte.weight").shape()[0];
        float[] logits = new float[seq * vocab];
        for (int t = 0; t < seq; t++) {
            for (int v = 0; v < vocab; v++) {
                double s = 0;
                for (int i = 0; i < embd; i++) {
                    s += out[t][i] * wte[v * embd + i];
                }
                logits[t * vocab + v] = (float) s;
            }
        }
        return logits;
    }

    private float[][] layerNorm(float[][] x, String name) {
        float[] g = w.get(name + ".weight").data();
        float[] b = w.get(name + ".bias").data();
        float[][] out = new float[x.length][];
        for (int t = 0; t < x.length; t++) {
            double mean = 0;
            for (float v : x[t]) {
                mean += v;
            }
            mean /= x[t].length;
            double var = 0;
            for (float v : x[t]) {
                var += (v - mean) * (v - mean);
            }
            var /= x[t].length;
            out[t] = new float[x[t].length];
            for (int i = 0; i < x[t].length; i++) {
                out[t][i] = (float) ((x[t][i] - mean) / Math.sqrt(var + 1e-5) * g[i] + b[i]);
            }
        }
        return out;
    }

    private float[][] conv1d(float[][] x, String name) {
        HostTensor weight = w.get(name + ".weight");
        int in = (int) weight.shape()[0];
        int outSize = (int) weight.shape()[1];
        float[] wt = weight.data();
        float[] b = w.get(name + ".bias").data();
        float[][] out = new float[x.length][outSize];
        for (int t = 0; t < x.length; t++) {
            for (int o = 0; o < outSize; o++) {
                double s = b[o];
                for (int i = 0; i < in; i++) {
                    s += x[t][i] * wt[i * outSize + o];
                }
                out[t][o] = (float) s;
            }
        }
        return out;
    }

    private static void add(float[][] h, float[][] y) {
        for (int t = 0; t < h.length; t++) {
            for (int i = 0; i < h[t].length; i++) {
                h[t][i] += y[t][i];
            }
        }
    }
}
