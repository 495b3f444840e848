package org.peft4j.backend.nd4j;

import java.io.IOException;
import java.net.JarURLConnection;
import java.net.URL;
import java.net.URLConnection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import org.bytedeco.javacpp.Loader;
import org.peft4j.api.PeftException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which BLAS ND4J's matrix products run on, chosen before ND4J loads. nd4j-native calls BLAS
 * through JavaCPP's OpenBLAS bindings, which load Intel's MKL in OpenBLAS's place when JavaCPP's
 * property {@value #JAVACPP_LOAD} is {@code mkl_rt} (MKL ships in this module's dependencies).
 * On the project's Intel Xeon, MiniLM's forward pass (32 x 64 tokens) took 285 ms with MKL against
 * 316-322 ms with the bundled OpenBLAS 0.3.19. {@value #PROPERTY} = {@code auto} (the default)
 * takes MKL on Intel CPUs, where it was measured, and OpenBLAS elsewhere; {@code mkl} or
 * {@code openblas} force one. A value of {@value #JAVACPP_LOAD} set by the user always wins.
 */
final class Nd4jBlas {
    private static final Logger LOG = LoggerFactory.getLogger(Nd4jBlas.class);
    /** System property: {@code auto}, {@code mkl} or {@code openblas}. */
    static final String PROPERTY = "peft.nd4j.blas";
    /** JavaCPP's property naming the library its OpenBLAS bindings load. */
    static final String JAVACPP_LOAD = "org.bytedeco.openblas.load";
    private static final String MKL_LIBRARY = "mkl_rt";
    private static final String MKL_RESOURCE = "/org/bytedeco/mkl/linux-x86_64/libmkl_rt.so.2";

    private Nd4jBlas() {
    }

    /**
     * Sets {@value #JAVACPP_LOAD} for the chosen BLAS unless it is set already; takes effect only
     * if ND4J has not loaded yet in this JVM.
     *
     * @throws PeftException for a value of {@value #PROPERTY} other than auto, mkl or openblas, or
     *     for mkl when MKL is not on the class path
     */
    static synchronized void choose() {
        if (System.getProperty(JAVACPP_LOAD) != null) {
            return;
        }
        String wanted = System.getProperty(PROPERTY, "auto").trim().toLowerCase(java.util.Locale.ROOT);
        boolean mkl = switch (wanted) {
            case "mkl" -> {
                if (!mklPresent()) {
                    throw new PeftException("-D" + PROPERTY + "=mkl, but MKL (org.bytedeco:mkl, classifier "
                            + "linux-x86_64-redist) is not on the class path; use auto or openblas");
                }
                yield true;
            }
            case "openblas" -> false;
            case "auto" -> intelCpu() && mklPresent();
            default -> throw new PeftException("-D" + PROPERTY + " must be one of " + List.of("auto", "mkl", "openblas")
                    + ", got '" + System.getProperty(PROPERTY) + "'");
        };
        if (mkl) {
            try {
                unpackMkl();
            } catch (IOException | RuntimeException e) {
                if (wanted.equals("mkl")) {
                    throw new PeftException("-D" + PROPERTY + "=mkl, but MKL's libraries could not be unpacked: " + e, e);
                }
                LOG.warn("MKL's libraries could not be unpacked ({}); ND4J runs on OpenBLAS", e.toString());
                mkl = false;
            }
        }
        if (mkl) {
            System.setProperty(JAVACPP_LOAD, MKL_LIBRARY);
        }
        LOG.debug("ND4J BLAS: {} ({}={})", mkl ? "MKL" : "OpenBLAS", PROPERTY, wanted);
    }

    /**
     * Unpacks every MKL library next to {@code mkl_rt} in JavaCPP's cache. MKL opens its
     * vector-math libraries ({@code libmkl_vml_*}) itself, from the folder {@code mkl_rt} was loaded
     * from, and ends the process when one is missing; JavaCPP's OpenBLAS bindings unpack only the
     * libraries they link. Unpacked once: JavaCPP keeps what is current.
     *
     * @return the libraries unpacked (their files in the cache)
     */
    static List<Path> unpackMkl() throws IOException {
        URL rt = Nd4jBlas.class.getResource(MKL_RESOURCE);
        List<Path> unpacked = new ArrayList<>();
        if (rt == null) {
            return unpacked;
        }
        URLConnection connection = rt.openConnection();
        if (!(connection instanceof JarURLConnection jarConnection)) {
            return unpacked; // a folder on the class path: the libraries are files already
        }
        String folder = MKL_RESOURCE.substring(1, MKL_RESOURCE.lastIndexOf('/') + 1);
        URL jarUrl = jarConnection.getJarFileURL();
        try (JarFile jar = new JarFile(Path.of(java.net.URI.create(jarUrl.toString())).toFile())) {
            for (JarEntry e : java.util.Collections.list(jar.entries())) {
                String name = e.getName();
                if (name.startsWith(folder) && name.indexOf('/', folder.length()) < 0 && name.contains(".so")) {
                    unpacked.add(Loader.cacheResource(new URL("jar:" + jarUrl + "!/" + name)).toPath());
                }
            }
        }
        return unpacked;
    }

    private static boolean mklPresent() {
        return Nd4jBlas.class.getResource(MKL_RESOURCE) != null;
    }

    /** Whether /proc/cpuinfo names Intel as the vendor (false where it cannot be read). */
    private static boolean intelCpu() {
        try (var lines = Files.lines(Path.of("/proc/cpuinfo"))) {
            return lines.filter(l -> l.startsWith("vendor_id")).findFirst().map(l -> l.contains("GenuineIntel")).orElse(false);
        } catch (IOException | java.io.UncheckedIOException e) {
            return false;
        }
    }
}
