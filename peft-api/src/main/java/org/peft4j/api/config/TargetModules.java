package org.peft4j.api.config;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.ArrayList;
import java.util.List;
import org.peft4j.api.PeftException;

/**
 * HF PEFT's {@code target_modules} / {@code exclude_modules}: in JSON either a list of names
 * (each matching a module path exactly or as a {@code .name} suffix), a string (a regular
 * expression that must match the whole path), or {@code "all-linear"}.
 */
public sealed interface TargetModules {

    /** The JSON value: a list of strings or a string. */
    @JsonValue
    Object toJson();

    /** Reads the JSON value (a string or a list of strings). */
    @JsonCreator
    static TargetModules fromJson(Object json) {
        if (json instanceof String s) {
            return s.equals(AllLinear.KEY) ? new AllLinear() : new Regex(s);
        }
        if (json instanceof List<?> list) {
            List<String> names = new ArrayList<>();
            for (Object o : list) {
                if (!(o instanceof String s) || s.isEmpty()) {
                    throw new PeftException("target module names must be non-empty strings, got " + o);
                }
                names.add(s);
            }
            return new Names(names);
        }
        throw new PeftException("target_modules must be a list of names, a regex string or \"all-linear\"; got "
                + json);
    }

    /** Names matched exactly or as a {@code .name} suffix. */
    static TargetModules names(String... names) {
        return new Names(List.of(names));
    }

    /** Exact names or name suffixes. */
    record Names(List<String> names) implements TargetModules {
        public Names {
            names = List.copyOf(names);
        }

        @Override
        public Object toJson() {
            return names;
        }
    }

    /** A Java regex that must match the whole module path (Python's {@code re.fullmatch}). */
    record Regex(String pattern) implements TargetModules {
        @Override
        public Object toJson() {
            return pattern;
        }
    }

    /** Every linear layer except the model's output layer. */
    record AllLinear() implements TargetModules {
        public static final String KEY = "all-linear";

        @Override
        public Object toJson() {
            return KEY;
        }
    }
}
