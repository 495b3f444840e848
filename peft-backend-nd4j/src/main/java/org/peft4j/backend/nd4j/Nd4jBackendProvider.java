package org.peft4j.backend.nd4j;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.BackendProvider;

/**
 * Registers the ND4J backend under the name {@value #NAME}. Cheap to construct and to describe:
 * the native ND4J engine loads only in {@link #create()}.
 */
public final class Nd4jBackendProvider implements BackendProvider {
    /** The name users select this backend by. */
    public static final String NAME = "nd4j";

    @Override
    public String apiVersion() {
        return org.peft4j.api.PeftApi.VERSION;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "ND4J " + version("org.nd4j", "nd4j-api") + " (nd4j-native CPU; BLAS: MKL " + version("org.bytedeco", "mkl")
                + " on Intel CPUs, else OpenBLAS " + version("org.bytedeco", "openblas") + "), autodiff via SameDiff";
    }

    @Override
    public Backend create() {
        return new Nd4jBackend();
    }

    /** A library's version from its Maven metadata, without loading any of its classes. */
    static String version(String group, String artifact) {
        String resource = "/META-INF/maven/" + group + "/" + artifact + "/pom.properties";
        try (InputStream in = Nd4jBackendProvider.class.getResourceAsStream(resource)) {
            if (in == null) {
                return "(unknown version)";
            }
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version", "(unknown version)");
        } catch (IOException e) {
            return "(unknown version)";
        }
    }
}
