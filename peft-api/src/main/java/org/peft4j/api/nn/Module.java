package org.peft4j.api.nn;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BiConsumer;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.Parameter;

/**
 * A node of a model's module tree, named as in the Hugging Face model it mirrors: a module at
 * path {@code encoder.layer.0.attention.self.query} owns parameters such as {@code weight}.
 * PEFT methods find their targets by these paths and inject themselves by
 * {@linkplain #replaceChild replacing} children, so a parent must look its children up by name
 * on every forward pass (see {@link #child}) rather than caching them in fields.
 */
public abstract class Module {
    private final Backend backend;
    private final Map<String, Module> children = new LinkedHashMap<>();
    private final Map<String, Parameter> parameters = new LinkedHashMap<>();
    private boolean training;

    protected Module(Backend backend) {
        this.backend = backend;
    }

    /** The backend this module's tensors live on; never null. */
    public Backend backend() {
        return backend;
    }

    /** Adds a child under {@code name}; returns it. */
    protected <M extends Module> M register(String name, M child) {
        if (children.putIfAbsent(name, child) != null) {
            throw new PeftException("child '" + name + "' registered twice in " + getClass().getSimpleName());
        }
        return child;
    }

    /** Adds a parameter under {@code name}; returns it. */
    protected Parameter register(String name, Parameter parameter) {
        if (parameters.putIfAbsent(name, parameter) != null) {
            throw new PeftException("parameter '" + name + "' registered twice in " + getClass().getSimpleName());
        }
        return parameter;
    }

    /** Removes a parameter of this module (for example a folded-away bias); returns it or null. */
    protected Parameter unregister(String name) {
        return parameters.remove(name);
    }

    /** Removes the direct child {@code name}; returns it, or null when absent. */
    protected Module removeChild(String name) {
        return children.remove(name);
    }

    /**
     * Attaches a module to this one from outside, for methods that add whole modules to a model
     * (the prompt encoders of prompt learning, under {@code prompt_encoder}); the name must be new.
     */
    public <M extends Module> M attach(String name, M module) {
        return register(name, module);
    }

    /** Detaches a module {@link #attach attached} under {@code name}; returns it, or null when absent. */
    public Module detach(String name) {
        return removeChild(name);
    }

    /** The direct child called {@code name}, cast to the expected type. */
    public <M> M child(String name, Class<M> type) {
        Module m = children.get(name);
        if (m == null) {
            throw new PeftException("module " + getClass().getSimpleName() + " has no child '" + name
                    + "'; children: " + children.keySet());
        }
        if (!type.isInstance(m)) {
            throw new PeftException("child '" + name + "' is a " + m.getClass().getSimpleName() + ", not a "
                    + type.getSimpleName());
        }
        return type.cast(m);
    }

    /** The direct child called {@code name}. */
    public Module child(String name) {
        return child(name, Module.class);
    }

    /** Direct children by name, in registration order; unmodifiable. */
    public Map<String, Module> children() {
        return Collections.unmodifiableMap(children);
    }

    /** This module's own parameters by name, in registration order; unmodifiable. */
    public Map<String, Parameter> parameters() {
        return Collections.unmodifiableMap(parameters);
    }

    /** Puts {@code replacement} where the child {@code name} was; returns the old child. */
    public Module replaceChild(String name, Module replacement) {
        if (!children.containsKey(name)) {
            throw new PeftException("cannot replace '" + name + "': " + getClass().getSimpleName()
                    + " has children " + children.keySet());
        }
        return children.put(name, replacement);
    }

    /** The module at a dotted path below this one ({@code ""} is this module). */
    public Module find(String path) {
        Module m = this;
        if (path.isEmpty()) {
            return m;
        }
        for (String part : path.split("\\.")) {
            m = m.child(part);
        }
        return m;
    }

    /** Replaces the module at a dotted path; returns the old one. */
    public Module replace(String path, Module replacement) {
        int dot = path.lastIndexOf('.');
        Module parent = dot < 0 ? this : find(path.substring(0, dot));
        return parent.replaceChild(path.substring(dot + 1), replacement);
    }

    /** Every module of the tree by dotted path, this one as {@code ""}, depth first. */
    public Map<String, Module> namedModules() {
        Map<String, Module> out = new LinkedHashMap<>();
        visit("", (path, m) -> out.put(path, m));
        return out;
    }

    /** Every parameter of the tree by dotted path ({@code module.path.name}), depth first. */
    public Map<String, Parameter> namedParameters() {
        Map<String, Parameter> out = new LinkedHashMap<>();
        visit("", (path, m) -> m.parameters.forEach((n, p) -> out.put(path.isEmpty() ? n : path + "." + n, p)));
        return out;
    }

    /** Parameters that are trainable, by path. */
    public Map<String, Parameter> trainableParameters() {
        Map<String, Parameter> out = new LinkedHashMap<>();
        namedParameters().forEach((n, p) -> {
            if (p.trainable()) {
                out.put(n, p);
            }
        });
        return out;
    }

    /** Sets every parameter of the tree trainable or frozen. */
    public void setTrainable(boolean trainable) {
        namedParameters().values().forEach(p -> p.setTrainable(trainable));
    }

    private void visit(String path, BiConsumer<String, Module> visitor) {
        visitor.accept(path, this);
        children.forEach((n, c) -> c.visit(path.isEmpty() ? n : path + "." + n, visitor));
    }

    /** Whether the tree is in training mode (dropout active); false after construction. */
    public boolean isTraining() {
        return training;
    }

    /** Switches this module and all below it between training and inference mode. */
    public void setTraining(boolean training) {
        namedModules().values().forEach(m -> m.training = training);
    }
}
