package org.peft4j.prompt;

import java.util.ArrayList;
import java.util.List;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;
import org.peft4j.api.backend.Tensor;
import org.peft4j.api.nn.Functional;
import org.peft4j.api.nn.Init;
import org.peft4j.api.nn.Linear;
import org.peft4j.api.nn.Module;
import org.peft4j.api.nn.ModuleDict;

/**
 * P-tuning's prompt (HF's {@code PromptEncoder}): the embedding table passed through
 * {@code mlp_head} (Linear, ReLU, Linear, ReLU, Linear) or through a bidirectional
 * {@code lstm_head} and then {@code mlp_head} (Linear, ReLU, Linear). Names follow HF's modules.
 */
final class PromptEncoder extends SoftPrompt {
    private final boolean lstm;

    PromptEncoder(Backend backend, Tensor table, PromptEncoderConfig config, long hidden, Init init) {
        super(backend, table);
        long dim = table.size(1);
        this.lstm = config.encoderReparameterizationType().equals("LSTM");
        ModuleDict mlp = new ModuleDict(backend);
        if (lstm) {
            register("lstm_head", new Lstm(backend, dim, hidden, config.encoderNumLayers(), config.encoderDropout(), init));
            mlp.put("0", Linear.init(backend, 2 * hidden, 2 * hidden, true, init));
            mlp.put("2", Linear.init(backend, 2 * hidden, dim, true, init));
        } else {
            mlp.put("0", Linear.init(backend, dim, hidden, true, init));
            mlp.put("2", Linear.init(backend, hidden, hidden, true, init));
            mlp.put("4", Linear.init(backend, hidden, dim, true, init));
        }
        register("mlp_head", mlp);
    }

    @Override
    protected Tensor compute() {
        Tensor x = embedding().weight().value();
        if (lstm) {
            x = child("lstm_head", Lstm.class).forward(x, isTraining());
        }
        ModuleDict mlp = child("mlp_head", ModuleDict.class);
        List<String> keys = new ArrayList<>(mlp.keys());
        for (int i = 0; i < keys.size(); i++) {
            x = mlp.child(keys.get(i), Linear.class).forward(x);
            if (i < keys.size() - 1) {
                x = x.relu();
            }
        }
        return x;
    }

    /**
     * A bidirectional LSTM over the virtual tokens (batch 1) with PyTorch's parameter names
     * ({@code weight_ih_l0}, {@code weight_hh_l0_reverse}, ...) and gate order (input, forget,
     * cell, output), built from tensor operations so every backend's autodiff runs through it.
     */
    static final class Lstm extends Module {
        private final long hidden;
        private final int layers;
        private final float dropout;

        Lstm(Backend backend, long input, long hidden, int layers, float dropout, Init init) {
            super(backend);
            this.hidden = hidden;
            this.layers = layers;
            this.dropout = dropout;
            float bound = (float) (1.0 / Math.sqrt(hidden));
            for (int l = 0; l < layers; l++) {
                long in = l == 0 ? input : 2 * hidden;
                for (String suffix : new String[] {"", "_reverse"}) {
                    register("weight_ih_l" + l + suffix, new Parameter(init.uniform(backend, -bound, bound, 4 * hidden, in)));
                    register("weight_hh_l" + l + suffix, new Parameter(init.uniform(backend, -bound, bound, 4 * hidden, hidden)));
                    register("bias_ih_l" + l + suffix, new Parameter(init.uniform(backend, -bound, bound, 4 * hidden)));
                    register("bias_hh_l" + l + suffix, new Parameter(init.uniform(backend, -bound, bound, 4 * hidden)));
                }
            }
        }

        /** Outputs (steps, 2 * hidden) for inputs (steps, input). */
        Tensor forward(Tensor x, boolean training) {
            for (int l = 0; l < layers; l++) {
                if (l > 0) {
                    x = Functional.dropout(x, dropout, training);
                }
                Tensor forward = direction(x, l, "");
                Tensor backward = direction(x, l, "_reverse");
                x = backend().concat(List.of(forward, backward), 1);
            }
            return x;
        }

        private Tensor direction(Tensor x, int layer, String suffix) {
            long steps = x.size(0);
            Tensor wih = parameters().get("weight_ih_l" + layer + suffix).value();
            Tensor whh = parameters().get("weight_hh_l" + layer + suffix).value();
            Tensor bias = parameters().get("bias_ih_l" + layer + suffix).value()
                    .add(parameters().get("bias_hh_l" + layer + suffix).value());
            Tensor projected = x.linear(wih, bias);
            Tensor h = backend().zeros(1, hidden);
            Tensor c = backend().zeros(1, hidden);
            Tensor[] out = new Tensor[(int) steps];
            boolean reverse = !suffix.isEmpty();
            for (int s = 0; s < steps; s++) {
                int t = reverse ? (int) steps - 1 - s : s;
                Tensor gates = projected.slice(0, t, t + 1).add(h.linear(whh, null));
                Tensor i = gates.slice(1, 0, hidden).sigmoid();
                Tensor f = gates.slice(1, hidden, 2 * hidden).sigmoid();
                Tensor g = gates.slice(1, 2 * hidden, 3 * hidden).tanh();
                Tensor o = gates.slice(1, 3 * hidden, 4 * hidden).sigmoid();
                c = f.mul(c).add(i.mul(g));
                h = o.mul(c.tanh());
                out[t] = h;
            }
            return backend().concat(List.of(out), 0);
        }
    }
}
