package org.peft4j.api;

/**
 * The version of the plugin contract ({@link org.peft4j.api.tuner.Tuner},
 * {@link org.peft4j.api.backend.BackendProvider} and what they use). A plugin returns
 * {@link #VERSION} from its {@code apiVersion()}: the constant is copied into the plugin's class
 * when it is compiled, so at run time it tells which contract the plugin was built against. The
 * registry accepts a plugin of the same major version and a minor version no newer than the
 * runtime's, and refuses any other with a message naming both versions (SLF4J 2 does the same
 * with its providers).
 */
public final class PeftApi {
    /** {@code major.minor}: the major changes when a plugin built before would break. */
    public static final String VERSION = "1.0";

    private PeftApi() {
    }
}
