package org.peft4j.core;

import org.peft4j.api.backend.Backend;
import org.peft4j.core.tuner.StandardTargetSelector;
import org.peft4j.core.PeftRegistry;

/**
 * Plain entry point for code that does not use Guice: the registry of installed methods and
 * backends, backends by name, and a {@link PeftModelFactory} over what is installed. Guice users
 * get the same objects from peft-guice's {@code PeftModule}.
 */
public final class Peft {
    /** System property naming the backend to use when none is given. */
    public static final String BACKEND_PROPERTY = "peft.backend";
    /** The backend used when neither code nor {@value #BACKEND_PROPERTY} names one. */
    public static final String DEFAULT_BACKEND = "djl";

    private static volatile PeftRegistry registry;

    private Peft() {
    }

    /** Everything installed on the classpath, discovered once. */
    public static PeftRegistry registry() {
        PeftRegistry r = registry;
        if (r == null) {
            synchronized (Peft.class) {
                if (registry == null) {
                    registry = PeftRegistry.discover();
                }
                r = registry;
            }
        }
        return r;
    }

    /** The value of {@value #BACKEND_PROPERTY}, or {@value #DEFAULT_BACKEND}. */
    public static String defaultBackendName() {
        String name = System.getProperty(BACKEND_PROPERTY);
        return name == null || name.isBlank() ? DEFAULT_BACKEND : name.trim();
    }

    /** A new backend by name; the caller closes it. */
    public static Backend backend(String name) {
        return registry().backend(name).create();
    }

    /** A new backend chosen by {@link #defaultBackendName()}; the caller closes it. */
    public static Backend backend() {
        return backend(defaultBackendName());
    }

    /** A model factory on {@code backend} with the standard target selector and every discovered tuner. */
    public static PeftModelFactory factory(Backend backend) {
        return new PeftModelFactory(backend, new StandardTargetSelector(), registry().tuners());
    }
}
