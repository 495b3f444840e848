package org.peft4j.models.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.peft4j.api.PeftException;

/**
 * Labelled texts read from TSV, CSV or JSONL (chosen by file extension). TSV and CSV need a header
 * row; columns are found by name. Labels are integers from 0. A malformed row is an error naming
 * the file and line.
 */
public final class TextDataset {
    private final List<Example> examples;

    private TextDataset(List<Example> examples) {
        this.examples = List.copyOf(examples);
    }

    /** Wraps examples already in memory. */
    public static TextDataset of(List<Example> examples) {
        return new TextDataset(examples);
    }

    /**
     * Reads a data file.
     *
     * @param textColumn the text column ({@code sentence} for SST-2)
     * @param pairColumn the second text column, or null for single texts
     * @param labelColumn the label column, or null for unlabelled texts (language modelling; every label 0)
     */
    public static TextDataset read(Path file, String textColumn, String pairColumn, String labelColumn) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            if (name.endsWith(".jsonl") || name.endsWith(".json")) {
                return new TextDataset(readJsonl(in, file, textColumn, pairColumn, labelColumn));
            }
            if (name.endsWith(".txt")) {
                return new TextDataset(readLines(in, file));
            }
            if (name.endsWith(".tsv") || name.endsWith(".csv")) {
                return new TextDataset(readDelimited(in, file, name.endsWith(".tsv") ? '\t' : ',', textColumn,
                        pairColumn, labelColumn));
            }
        } catch (NoSuchFileException e) {
            throw new PeftException("data file not found: " + file);
        } catch (IOException e) {
            throw new PeftException("cannot read data file " + file + ": " + e.getMessage(), e);
        }
        throw new PeftException("data file " + file + " has an unknown format; use .tsv, .csv, .jsonl or .txt (one text per line)");
    }

    public List<Example> examples() {
        return examples;
    }

    public int size() {
        return examples.size();
    }

    /** Number of classes: the largest label plus one. */
    public int numLabels() {
        return examples.stream().mapToInt(Example::label).max().orElse(-1) + 1;
    }

    /** The first {@code n} examples after a seeded shuffle (all of them if fewer). */
    public TextDataset sample(int n, long seed) {
        List<Example> copy = new ArrayList<>(examples);
        Collections.shuffle(copy, new Random(seed));
        return new TextDataset(copy.subList(0, Math.min(n, copy.size())));
    }

    /** The next line ended by \n only (a lone \r is data in GLUE's TSVs); a trailing \r is dropped. Null at the end. */
    private static String readLine(BufferedReader in) throws IOException {
        StringBuilder sb = new StringBuilder();
        int c;
        while ((c = in.read()) != -1 && c != '\n') {
            sb.append((char) c);
        }
        if (c == -1 && sb.length() == 0) {
            return null;
        }
        int end = sb.length();
        if (end > 0 && sb.charAt(end - 1) == '\r') {
            sb.setLength(end - 1);
        }
        return sb.toString();
    }

    /**
     * Shuffled batches of similar-length examples, so dynamic padding wastes little: a seeded
     * shuffle, then each window of 50 batches is sorted by text length and cut into batches, and
     * the batches are shuffled again. Every example appears exactly once.
     */
    public List<List<Example>> lengthBucketedBatches(int batchSize, long seed) {
        if (batchSize <= 0) {
            throw new PeftException("batch size must be positive, got " + batchSize);
        }
        Random random = new Random(seed);
        List<Example> shuffled = new ArrayList<>(examples);
        Collections.shuffle(shuffled, random);
        List<List<Example>> batches = new ArrayList<>();
        int window = batchSize * 50;
        for (int w = 0; w < shuffled.size(); w += window) {
            List<Example> chunk = new ArrayList<>(shuffled.subList(w, Math.min(shuffled.size(), w + window)));
            chunk.sort(java.util.Comparator.comparingInt(Example::charLength));
            for (int i = 0; i < chunk.size(); i += batchSize) {
                batches.add(List.copyOf(chunk.subList(i, Math.min(chunk.size(), i + batchSize))));
            }
        }
        Collections.shuffle(batches, random);
        return batches;
    }

    private static List<Example> readJsonl(BufferedReader in, Path file, String text, String pair, String label)
            throws IOException {
        ObjectMapper mapper = new ObjectMapper();
        List<Example> out = new ArrayList<>();
        String line;
        int lineNo = 0;
        while ((line = readLine(in)) != null) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            JsonNode node;
            try {
                node = mapper.readTree(line);
            } catch (JsonProcessingException e) {
                throw rowError(file, lineNo, "not valid JSON (" + e.getOriginalMessage() + ")");
            }
            if (node == null || !node.isObject()) {
                throw rowError(file, lineNo, "expected a JSON object");
            }
            String t = jsonText(node, text, file, lineNo);
            String p = pair == null ? null : jsonText(node, pair, file, lineNo);
            if (label == null) {
                out.add(new Example(t, p, 0));
                continue;
            }
            JsonNode l = node.get(label);
            if (l == null || !l.canConvertToInt() || !l.isIntegralNumber() && !l.isTextual()) {
                throw rowError(file, lineNo, "field '" + label + "' must be an integer label, got " + l);
            }
            out.add(new Example(t, p, parseLabel(l.asText(), file, lineNo)));
        }
        return nonEmpty(out, file);
    }

    /** A .txt file: every non-blank line is one unlabelled text. */
    private static List<Example> readLines(BufferedReader in, Path file) throws IOException {
        List<Example> out = new ArrayList<>();
        String line;
        while ((line = readLine(in)) != null) {
            if (!line.isBlank()) {
                out.add(new Example(line.strip(), null, 0));
            }
        }
        return nonEmpty(out, file);
    }

    private static String jsonText(JsonNode node, String field, Path file, int lineNo) {
        JsonNode v = node.get(field);
        if (v == null || !v.isTextual()) {
            throw rowError(file, lineNo, "field '" + field + "' must be a string; fields: " + fieldNames(node));
        }
        return v.asText();
    }

    private static List<String> fieldNames(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    private static List<Example> readDelimited(BufferedReader in, Path file, char sep, String text, String pair,
            String label) throws IOException {
        String header = readLine(in);
        if (header == null) {
            throw new PeftException("data file " + file + " is empty; expected a header row");
        }
        List<String> columns = split(header, sep, file, 1);
        int ti = column(columns, text, file);
        int pi = pair == null ? -1 : column(columns, pair, file);
        int li = label == null ? -1 : column(columns, label, file);
        List<Example> out = new ArrayList<>();
        String line;
        int lineNo = 1;
        while ((line = readLine(in)) != null) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            List<String> cells = split(line, sep, file, lineNo);
            if (cells.size() != columns.size()) {
                throw rowError(file, lineNo, "has " + cells.size() + " columns, the header has " + columns.size());
            }
            out.add(new Example(cells.get(ti), pi < 0 ? null : cells.get(pi),
                    li < 0 ? 0 : parseLabel(cells.get(li), file, lineNo)));
        }
        return nonEmpty(out, file);
    }

    private static int column(List<String> columns, String name, Path file) {
        int i = columns.indexOf(name);
        if (i < 0) {
            throw new PeftException("data file " + file + " has no column '" + name + "'; columns: " + columns);
        }
        return i;
    }

    /** TSV: plain split on tabs. CSV: RFC 4180 quoting on one line. */
    private static List<String> split(String line, char sep, Path file, int lineNo) {
        List<String> out = new ArrayList<>();
        if (sep == '\t') {
            for (String cell : line.split("\t", -1)) {
                out.add(cell.strip());
            }
            return out;
        }
        StringBuilder cell = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quoted) {
                if (c == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                    cell.append('"');
                    i++;
                } else if (c == '"') {
                    quoted = false;
                } else {
                    cell.append(c);
                }
            } else if (c == '"' && cell.length() == 0) {
                quoted = true;
            } else if (c == sep) {
                out.add(cell.toString());
                cell.setLength(0);
            } else {
                cell.append(c);
            }
        }
        if (quoted) {
            throw rowError(file, lineNo, "has an unterminated quoted field");
        }
        out.add(cell.toString());
        return out;
    }

    private static int parseLabel(String s, Path file, int lineNo) {
        try {
            int v = Integer.parseInt(s.trim());
            if (v < 0) {
                throw rowError(file, lineNo, "label must be >= 0, got " + v);
            }
            return v;
        } catch (NumberFormatException e) {
            throw rowError(file, lineNo, "label '" + s + "' is not an integer");
        }
    }

    private static List<Example> nonEmpty(List<Example> out, Path file) {
        if (out.isEmpty()) {
            throw new PeftException("data file " + file + " has no examples");
        }
        return out;
    }

    private static PeftException rowError(Path file, int lineNo, String what) {
        return new PeftException(file + ":" + lineNo + ": row " + what);
    }
}
