package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Scope;
import org.peft4j.api.backend.Tensor;
import org.peft4j.core.Peft;
import org.peft4j.core.tuner.RowAdapters;

/**
 * What the layers of one routed pass share (the LoRA routing mask): made once per key and pass,
 * alive across the layers' scopes, released when the pass ends.
 */
class RowAdaptersSharedTest {
    @ParameterizedTest
    @ValueSource(strings = {"djl", "nd4j"})
    void aSharedTensorIsMadeOncePerPassAndReleasedWhenItEnds(String backend) {
        try (Backend b = Peft.backend(backend)) {
            AtomicInteger made = new AtomicInteger();
            Tensor[] seen = new Tensor[3];
            RowAdapters.with(List.of("a", RowAdapters.BASE), () -> {
                RowAdapters rows = RowAdapters.current();
                for (int layer = 0; layer < 2; layer++) {
                    // each layer's temporaries live in a scope of their own; the shared tensor outlives them
                    try (Scope s = b.scope()) {
                        seen[layer] = rows.shared(List.of("mask", 2L), () -> {
                            made.incrementAndGet();
                            return b.fromFloats(new float[] {1, 0}, 2, 1);
                        });
                    }
                }
                seen[2] = rows.shared(List.of("mask", 3L), () -> b.fromFloats(new float[] {7}, 1));
                assertThat(seen[1].toFloatArray()).containsExactly(1, 0);
                assertThat(seen[2].toFloatArray()).containsExactly(7);
                return null;
            });
            assertThat(made).hasValue(1);
            assertThat(seen[1]).isSameAs(seen[0]);
            assertThatThrownBy(seen[0]::toFloatArray);
            assertThatThrownBy(seen[2]::toFloatArray);
        }
    }
}
