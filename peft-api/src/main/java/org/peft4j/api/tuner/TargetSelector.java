package org.peft4j.api.tuner;

import java.util.List;
import java.util.function.Predicate;
import org.peft4j.api.nn.Module;

/**
 * Turns a {@link TargetSpec} into the module paths of a model, following HF PEFT's matching
 * rules. A spec that selects nothing, or a listed name that matches no module, is an error
 * naming the closest module names.
 */
public interface TargetSelector {

    /**
     * Paths of the modules of {@code model} selected by {@code spec} among those accepted by
     * {@code eligible}, in model order; never empty.
     *
     * @throws org.peft4j.api.PeftException when nothing, or not every listed name, matches
     */
    List<String> select(Module model, TargetSpec spec, Predicate<Module> eligible);
}
