package org.peft4j.api.backend;

/**
 * Service-provider interface a backend jar registers in
 * {@code META-INF/services/org.peft4j.api.backend.BackendProvider}. Needs a public no-argument
 * constructor; it should be cheap: native engines load in {@link #create()}, not before.
 */
public interface BackendProvider {

    /** Unique name users select the backend by, lower case (for example {@code "djl"}). */
    String name();

    /** One line for {@code peft list}: engine and version. */
    String description();

    /**
     * The plugin contract this provider was built against: return {@link org.peft4j.api.PeftApi#VERSION}
     * (a compile-time constant, so it records the API the jar was compiled with).
     */
    String apiVersion();

    /** Creates a new backend instance, loading the native engine if needed. */
    Backend create();
}
