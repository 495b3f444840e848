package org.peft4j.examples.cli;

import com.google.inject.Guice;
import com.google.inject.Injector;
import java.nio.file.Path;
import org.peft4j.api.backend.Backend;
import org.peft4j.core.Peft;
import org.peft4j.core.PeftModelFactory;
import org.peft4j.core.PeftRegistry;
import org.peft4j.core.io.AdapterFiles;
import org.peft4j.guice.PeftModule;

/**
 * The CLI's object graph, built by Guice in this one place: the backend a command runs on is one
 * binding ({@link PeftModule}), and every model a command wraps comes from the injected
 * {@link PeftModelFactory}. The backend is created on first use and closed with the wiring.
 */
final class Wiring implements AutoCloseable {
    private final String backendName;
    private final Long adapterBudget;
    private final Injector injector;
    private Backend backend;

    private Wiring(String backendName, Long adapterBudget) {
        this.backendName = backendName;
        this.adapterBudget = adapterBudget;
        this.injector = Guice.createInjector(new PeftModule(backendName));
    }

    /** The name of the backend this wiring binds. */
    String backendName() {
        return backendName;
    }

    /** The wiring for {@code backendFlag}, or for {@link Peft#defaultBackendName()} when null; an unknown name fails listing the installed ones. */
    static Wiring of(String backendFlag) {
        return of(backendFlag, null);
    }

    /** As {@link #of(String)}, with models that refuse adapters over {@code adapterBudget} elements (null: the default). */
    static Wiring of(String backendFlag, Long adapterBudget) {
        String name = backendFlag == null ? Peft.defaultBackendName() : backendFlag;
        Peft.registry().backend(name); // fail in one line, before Guice wraps the error
        return new Wiring(name, adapterBudget);
    }

    /** The installed methods and backends (no backend is created). */
    PeftRegistry registry() {
        return injector.getInstance(PeftRegistry.class);
    }

    /** Reads and checks an adapter folder against the installed methods (no backend is created). */
    AdapterFiles.Loaded readAdapter(Path dir) {
        return AdapterFiles.load(dir, registry());
    }

    /** The backend, created on first call. */
    Backend backend() {
        if (backend == null) {
            backend = injector.getInstance(Backend.class);
        }
        return backend;
    }

    /** Makes PeftModels on {@link #backend()}. */
    PeftModelFactory factory() {
        backend();
        PeftModelFactory factory = injector.getInstance(PeftModelFactory.class);
        return adapterBudget == null ? factory : factory.withAdapterBudget(adapterBudget);
    }

    @Override
    public void close() {
        if (backend != null) {
            backend.close();
        }
    }
}
