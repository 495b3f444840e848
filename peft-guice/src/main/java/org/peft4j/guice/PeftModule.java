package org.peft4j.guice;

import com.google.inject.AbstractModule;
import com.google.inject.Binder;
import com.google.inject.Inject;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import com.google.inject.TypeLiteral;
import com.google.inject.multibindings.MapBinder;
import com.google.inject.multibindings.OptionalBinder;
import java.util.Map;
import java.util.Set;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.BackendProvider;
import org.peft4j.api.tuner.TargetSelector;
import org.peft4j.api.tuner.Tuner;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModelFactory;
import org.peft4j.core.PeftRegistry;
import org.peft4j.core.tuner.StandardTargetSelector;

/**
 * Guice wiring of peft4j: the chosen {@link Backend}, the {@link TargetSelector}, every tuner by
 * {@code peft_type} ({@code Map<String, Tuner<?>>}) and every backend provider by name, and the
 * {@link PeftModelFactory} built from them, which is how models get their collaborators.
 *
 * <p>Discovered plugins ({@code META-INF/services}) are bound for you. Other modules add to the
 * same maps or replace the selector:
 * <pre>{@code
 * Injector injector = Guice.createInjector(new PeftModule("djl"), new AbstractModule() {
 *     protected void configure() {
 *         PeftModule.tuners(binder()).addBinding("MY_METHOD").to(MyTuner.class);
 *         PeftModule.targetSelector(binder()).setBinding().to(MySelector.class);
 *     }
 * });
 * PeftModel model = injector.getInstance(PeftModelFactory.class).create(net, 42);
 * }</pre>
 * Two tuners for one {@code peft_type} fail injector creation naming both classes; two backends
 * for one name fail naming both bindings. The backend is a singleton created on first use; whoever owns the
 * injector closes it ({@code injector.getInstance(Backend.class).close()}).
 */
public final class PeftModule extends AbstractModule {
    private final String backendName;
    private final PeftRegistry discovered;

    /** Wires the backend called {@code backendName} with everything discovered on the classpath. */
    public PeftModule(String backendName) {
        this(backendName, PeftRegistry.discover());
    }

    /** Wires the backend named by the system property {@code peft.backend}, default {@code djl}. */
    public static PeftModule fromSystemProperty() {
        return new PeftModule(Peft.defaultBackendName());
    }

    /** Wires the plugins of an explicit registry (tests, custom class loaders). */
    public PeftModule(String backendName, PeftRegistry discovered) {
        this.discovered = discovered;
        this.backendName = backendName;
    }

    /**
     * The map of tuners by {@code peft_type}, for modules that add their own. Duplicates are let
     * through Guice's own check so that {@link OneTunerPerType} can name both classes.
     */
    public static MapBinder<String, Tuner<?>> tuners(Binder binder) {
        return MapBinder.newMapBinder(binder, new TypeLiteral<String>() { }, new TypeLiteral<Tuner<?>>() { })
                .permitDuplicates();
    }

    /** The map of backend providers by name, for modules that add their own. */
    public static MapBinder<String, BackendProvider> backends(Binder binder) {
        return MapBinder.newMapBinder(binder, String.class, BackendProvider.class);
    }

    /** The target selector: HF PEFT's rules unless a module calls {@code setBinding()} on it. */
    public static OptionalBinder<TargetSelector> targetSelector(Binder binder) {
        return OptionalBinder.newOptionalBinder(binder, TargetSelector.class);
    }

    @Override
    protected void configure() {
        MapBinder<String, Tuner<?>> tuners = tuners(binder());
        discovered.tuners().forEach((type, tuner) -> tuners.addBinding(type).toInstance(tuner));
        MapBinder<String, BackendProvider> backends = backends(binder());
        discovered.backends().forEach((name, provider) -> backends.addBinding(name).toInstance(provider));
        targetSelector(binder()).setDefault().to(StandardTargetSelector.class);
        bind(OneTunerPerType.class).asEagerSingleton();
    }

    /** Fails injector creation when two tuners are bound for one {@code peft_type}, naming both classes. */
    static final class OneTunerPerType {
        @Inject
        OneTunerPerType(Map<String, Set<Tuner<?>>> tuners) {
            tuners.forEach((type, bound) -> {
                if (bound.size() > 1) {
                    throw new PeftException("peft_type " + type + " is bound to " + bound.size() + " tuners: "
                            + bound.stream().map(t -> t.getClass().getName()).sorted().toList()
                            + "; bind one tuner per peft_type (a discovered plugin counts: remove its jar or bind another type)");
                }
            });
        }
    }

    /** Every tuner and backend bound, checked (versions, keys) as the plain registry checks them. */
    @Provides
    @Singleton
    PeftRegistry registry(Map<String, Tuner<?>> tuners, Map<String, BackendProvider> backends) {
        return PeftRegistry.of(tuners, backends.values());
    }

    @Provides
    @Singleton
    Backend backend(PeftRegistry registry) {
        return registry.backend(backendName).create();
    }

    @Provides
    @Singleton
    PeftModelFactory factory(Backend backend, TargetSelector selector, Map<String, Tuner<?>> tuners) {
        return new PeftModelFactory(backend, selector, tuners);
    }
}
