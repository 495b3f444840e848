package org.peft4j.api;

/**
 * The version of the plugin contract. A plugin returns {@link #VERSION} from its
 * {@code apiVersion()}; the constant is compiled into the plugin, so at run time it tells which
 * contract the plugin was built against. The registry accepts the same major version with a
 * minor version no newer than the runtime's, and refuses any other naming both (as SLF4J 2 does).
 */
public final class PeftApi {
    /** {@code major.minor}: the major changes when a plugin built before would break. */
    public static final String VERSION = "1.0";

    private PeftApi() {
    }
}
