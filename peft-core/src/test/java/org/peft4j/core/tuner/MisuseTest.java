package org.peft4j.core.tuner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.api.PeftException;
import org.peft4j.api.nn.Module;

/** Misuse of the module tree and of per-row adapters is a {@link PeftException} naming the offending value. */
class MisuseTest {
    private static final class Node extends Module {
        Node() {
            super(null);
        }

        void add(String name) {
            register(name, new Node());
        }
    }

    @Test
    void aChildRegisteredTwiceIsNamed() {
        Node n = new Node();
        n.add("query");
        assertThatThrownBy(() -> n.add("query"))
                .isInstanceOf(PeftException.class).hasMessageContaining("'query'").hasMessageContaining("twice");
    }

    @Test
    void nestedPerRowAdaptersAreRefusedAndNamed() {
        assertThatThrownBy(() -> RowAdapters.with(List.of("a", RowAdapters.BASE),
                () -> RowAdapters.with(List.of("b"), () -> 1)))
                .isInstanceOf(PeftException.class).hasMessageContaining("[b]").hasMessageContaining("[a, __base__]");
        assertThat(RowAdapters.current()).isNull();
    }
}
