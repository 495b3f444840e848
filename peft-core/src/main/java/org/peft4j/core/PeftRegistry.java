package org.peft4j.core;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeMap;
import org.peft4j.api.PeftApi;
import org.peft4j.api.PeftException;
import org.peft4j.api.backend.BackendProvider;
import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.tuner.Tuner;
import org.peft4j.core.io.PeftJson;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The installed PEFT methods and backends: the Java twin of HF PEFT's
 * {@code PEFT_TYPE_TO_CONFIG_MAPPING} ({@code peft_type} to tuner to config class). Built by
 * {@link #discover()} from {@link ServiceLoader} entries, or from explicit tuners (Guice's map
 * binding, tests). A provider that fails to load is logged and skipped; two providers claiming one
 * name, or a provider built against an incompatible {@link PeftApi#VERSION}, are errors naming
 * the classes. Immutable and thread-safe.
 */
public final class PeftRegistry {
    private static final Logger LOG = LoggerFactory.getLogger(PeftRegistry.class);

    private final Map<String, Tuner<?>> tuners;
    private final Map<String, BackendProvider> backends;

    /** A registry of exactly these tuners and backends (duplicates and incompatible versions are an error). */
    public PeftRegistry(Iterable<? extends Tuner<?>> tuners, Iterable<? extends BackendProvider> backends) {
        Map<String, Tuner<?>> t = new TreeMap<>();
        for (Tuner<?> tuner : tuners) {
            checkVersion("tuner", tuner.getClass(), tuner.apiVersion());
            String type = tuner.peftType().toUpperCase(Locale.ROOT);
            Tuner<?> prev = t.putIfAbsent(type, tuner);
            if (prev != null) {
                throw new PeftException("peft_type " + type + " is claimed by two tuners: " + prev.getClass().getName()
                        + " and " + tuner.getClass().getName() + "; remove one of the jars from the classpath");
            }
        }
        Map<String, BackendProvider> b = new TreeMap<>();
        for (BackendProvider p : backends) {
            checkVersion("backend", p.getClass(), p.apiVersion());
            String name = p.name().toLowerCase(Locale.ROOT);
            BackendProvider prev = b.putIfAbsent(name, p);
            if (prev != null) {
                throw new PeftException("backend name '" + name + "' is claimed by two providers: "
                        + prev.getClass().getName() + " and " + p.getClass().getName()
                        + "; remove one of the jars from the classpath");
            }
        }
        this.tuners = Collections.unmodifiableMap(t);
        this.backends = Collections.unmodifiableMap(b);
    }

    /**
     * A registry of tuners keyed by {@code peft_type}, as a Guice map binding supplies them; each
     * key must be its tuner's own {@link Tuner#peftType()}.
     */
    public static PeftRegistry of(Map<String, ? extends Tuner<?>> tuners, Iterable<? extends BackendProvider> backends) {
        tuners.forEach((key, tuner) -> {
            if (!key.equalsIgnoreCase(tuner.peftType())) {
                throw new PeftException("tuner " + tuner.getClass().getName() + " is bound under peft_type '" + key
                        + "' but implements '" + tuner.peftType() + "'; bind it under its own peft_type");
            }
        });
        return new PeftRegistry(tuners.values(), backends);
    }

    /**
     * Fails unless a plugin built against API {@code version} runs on this one: the same major
     * version and a minor version no newer than {@link PeftApi#VERSION}.
     */
    static void checkVersion(String kind, Class<?> plugin, String version) {
        String[] want = PeftApi.VERSION.split("\\.");
        String[] got = version == null ? new String[0] : version.split("\\.");
        boolean ok = got.length == 2 && got[0].equals(want[0]);
        if (ok) {
            try {
                ok = Integer.parseInt(got[1]) <= Integer.parseInt(want[1]);
            } catch (NumberFormatException e) {
                ok = false;
            }
        }
        if (!ok) {
            throw new PeftException("the " + kind + " " + plugin.getName() + " was built against peft4j API " + version
                    + ", but this runtime provides API " + PeftApi.VERSION + " (compatible: " + want[0]
                    + ".0 to " + PeftApi.VERSION + "); use a build of that plugin made for this peft4j version");
        }
    }

    /** Everything the class loader's {@code META-INF/services} entries declare. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static PeftRegistry discover(ClassLoader loader) {
        List<Tuner<?>> tuners = (List) load(Tuner.class, loader);
        return new PeftRegistry(tuners, load(BackendProvider.class, loader));
    }

    /** {@link #discover(ClassLoader)} with this class's loader. */
    public static PeftRegistry discover() {
        return discover(PeftRegistry.class.getClassLoader());
    }

    private static <S> List<S> load(Class<S> type, ClassLoader loader) {
        List<S> out = new ArrayList<>();
        Iterator<S> it = ServiceLoader.load(type, loader).iterator();
        while (true) {
            try {
                if (!it.hasNext()) {
                    break;
                }
                out.add(it.next());
            } catch (ServiceConfigurationError e) {
                // one broken jar must not hide the others
                LOG.warn("skipping a {} that failed to load: {}", type.getSimpleName(), e.getMessage());
            }
        }
        return out;
    }

    /** Installed tuners by {@code peft_type}, sorted; unmodifiable. */
    public Map<String, Tuner<?>> tuners() {
        return tuners;
    }

    /** Installed backends by name, sorted; unmodifiable. */
    public Map<String, BackendProvider> backends() {
        return backends;
    }

    /** The tuner for a {@code peft_type} (case-insensitive), or an error listing installed types. */
    public Tuner<?> tuner(String peftType) {
        Tuner<?> t = peftType == null ? null : tuners.get(peftType.toUpperCase(Locale.ROOT));
        if (t == null) {
            throw new PeftException("unknown peft_type '" + peftType + "'; installed: " + tuners.keySet());
        }
        return t;
    }

    /** The backend provider called {@code name} (case-insensitive), or an error listing installed ones. */
    public BackendProvider backend(String name) {
        BackendProvider p = name == null ? null : backends.get(name.toLowerCase(Locale.ROOT));
        if (p == null) {
            throw new PeftException("unknown backend '" + name + "'; installed: " + backends.keySet());
        }
        return p;
    }

    /** Reads an {@code adapter_config.json} text into the config class its {@code peft_type} names. */
    public PeftConfig parseConfig(String json) {
        ObjectNode node = PeftJson.parseObject(json);
        JsonNode type = node.get("peft_type");
        if (type == null || !type.isTextual()) {
            throw new PeftException("adapter config has no \"peft_type\" string; installed types: " + tuners.keySet());
        }
        return PeftJson.bind(node, tuner(type.asText()).configClass());
    }
}
