package org.peft4j.core.tuner;

import org.peft4j.api.tuner.TargetSelector;
import org.peft4j.api.tuner.TargetSpec;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import java.util.stream.Collectors;
import org.peft4j.api.PeftException;
import org.peft4j.api.config.TargetModules;
import org.peft4j.api.nn.LinearLayer;
import org.peft4j.api.nn.Module;

/**
 * HF PEFT's matching rules: a listed name matches a path exactly or as a {@code .name} suffix; a
 * regex must match the whole path; {@code all-linear} takes every {@link LinearLayer} except the
 * model's output layer (last segment {@code lm_head}, {@code classifier} or {@code score}).
 * Unlike HF PEFT, every listed name must match something (HF issue #1959).
 */
public final class StandardTargetSelector implements TargetSelector {
    private static final Set<String> OUTPUT_LAYERS = Set.of("lm_head", "classifier", "score");
    private static final List<String> LAYER_PATTERNS = List.of("layers", "layer", "h", "blocks", "block");

    @Override
    public List<String> select(Module model, TargetSpec spec, Predicate<Module> eligible) {
        List<String> candidates = new ArrayList<>();
        for (Map.Entry<String, Module> e : model.namedModules().entrySet()) {
            if (!e.getKey().isEmpty() && eligible.test(e.getValue())) {
                candidates.add(e.getKey());
            }
        }
        List<String> selected = new ArrayList<>();
        for (String path : candidates) {
            if (matches(spec.targetModules(), path)
                    && (spec.excludeModules() == null || !matches(spec.excludeModules(), path))
                    && inLayers(path, spec)) {
                selected.add(path);
            }
        }
        if (spec.targetModules() instanceof TargetModules.Names names) {
            for (String name : names.names()) {
                if (candidates.stream().noneMatch(p -> matchesName(name, p))) {
                    throw new PeftException("target module '" + name + "' matches no eligible module; closest: "
                            + closest(name, candidates));
                }
            }
        }
        if (selected.isEmpty()) {
            throw new PeftException("target_modules " + spec.targetModules().toJson()
                    + (spec.excludeModules() == null ? "" : " minus exclude_modules " + spec.excludeModules().toJson())
                    + (spec.layersToTransform() == null ? "" : " in layers " + spec.layersToTransform())
                    + " selects no module; eligible module names: " + closest(String.valueOf(spec.targetModules().toJson()), candidates));
        }
        return selected;
    }

    private static boolean matches(TargetModules rule, String path) {
        if (rule instanceof TargetModules.Names n) {
            return n.names().stream().anyMatch(name -> matchesName(name, path));
        }
        if (rule instanceof TargetModules.Regex r) {
            try {
                return Pattern.compile(r.pattern()).matcher(path).matches();
            } catch (PatternSyntaxException e) {
                throw new PeftException("target_modules regex '" + r.pattern() + "' is invalid: " + e.getDescription(), e);
            }
        }
        String last = path.substring(path.lastIndexOf('.') + 1);
        return !OUTPUT_LAYERS.contains(last);
    }

    private static boolean matchesName(String name, String path) {
        return path.equals(name) || path.endsWith("." + name);
    }

    private static boolean inLayers(String path, TargetSpec spec) {
        if (spec.layersToTransform() == null) {
            return true;
        }
        List<String> patterns = spec.layersPattern() == null ? LAYER_PATTERNS : List.of(spec.layersPattern());
        for (String p : patterns) {
            Matcher m = Pattern.compile("(?:^|\\.)" + Pattern.quote(p) + "\\.(\\d+)(?:\\.|$)").matcher(path);
            if (m.find()) {
                return spec.layersToTransform().contains(Integer.parseInt(m.group(1)));
            }
        }
        return false;
    }

    /** Up to five distinct last segments of {@code candidates}, closest to {@code wanted} first. */
    static String closest(String wanted, List<String> candidates) {
        Set<String> names = new LinkedHashSet<>();
        for (String c : candidates) {
            names.add(c.substring(c.lastIndexOf('.') + 1));
        }
        if (names.isEmpty()) {
            return "(the model has no eligible modules)";
        }
        return names.stream()
                .sorted(Comparator.comparingInt((String n) -> editDistance(wanted, n)).thenComparing(n -> n))
                .limit(5)
                .collect(Collectors.joining(", ", "[", "]"));
    }

    private static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
