package org.peft4j.guice;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import com.google.inject.multibindings.MapBinder;
import org.peft4j.core.Peft;
import org.peft4j.api.backend.Backend;
import org.peft4j.core.PeftRegistry;
import org.peft4j.api.tuner.TargetSelector;
import org.peft4j.api.tuner.Tuner;

/**
 * Guice wiring: binds {@link Backend} to the backend chosen by name, {@link PeftRegistry}, the
 * {@link TargetSelector}, and every discovered {@link Tuner} into a {@code Map<String, Tuner>}
 * keyed by {@code peft_type} (a {@link MapBinder}, so other modules may add tuners; a duplicate
 * key fails injector creation).
 */
public final class PeftModule extends AbstractModule {
    private final String backendName;
    private final PeftRegistry registry;

    /** Wires the backend called {@code backendName} with everything discovered on the classpath. */
    public PeftModule(String backendName) {
        this(backendName, PeftRegistry.discover());
    }

    /** Wires the backend named by the system property {@code peft.backend}, default {@code djl}. */
    public static PeftModule fromSystemProperty() {
        return new PeftModule(Peft.defaultBackendName());
    }

    /** Wires from an explicit registry (tests, custom class loaders). */
    public PeftModule(String backendName, PeftRegistry registry) {
        this.registry = registry;
        registry.backend(backendName); // fail now, with the list of installed backends
        this.backendName = backendName;
    }

    @Override
    protected void configure() {
        bind(PeftRegistry.class).toInstance(registry);
        bind(TargetSelector.class).toInstance(new org.peft4j.core.tuner.StandardTargetSelector());
        MapBinder<String, Tuner> tuners = MapBinder.newMapBinder(binder(), String.class, Tuner.class);
        registry.tuners().forEach((type, tuner) -> tuners.addBinding(type).toInstance(tuner));
    }

    @Provides
    @Singleton
    Backend backend() {
        return registry.backend(backendName).create();
    }
}
