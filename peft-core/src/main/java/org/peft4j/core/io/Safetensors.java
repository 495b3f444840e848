package org.peft4j.core.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.api.PeftException;

/**
 * Reader and writer of the safetensors format: an 8-byte little-endian header length, a JSON
 * header ({@code name -> {dtype, shape, data_offsets}} plus optional {@code __metadata__}), then
 * the tensors' bytes, little-endian and row-major. Reading is strict: every inconsistency is a
 * {@link SafetensorsFormatException}, checked before anything large is allocated. Writing is
 * atomic (temporary file, then rename).
 */
public final class Safetensors {
    /** Header sizes above this are refused (HF's own limit is 100 MB). */
    static final long MAX_HEADER = 100L << 20;
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private Safetensors() {
    }

    /** Tensors of a file by name, in the order of their data; float types and integers become float. */
    public static Map<String, HostTensor> read(Path file) {
        return readContents(file).tensors();
    }

    /**
     * The tensors and the {@code __metadata__} map of a file.
     *
     * @param tensors by name, in data order
     * @param metadata string to string; empty when absent
     */
    public record Contents(Map<String, HostTensor> tensors, Map<String, String> metadata) {
    }

    /** Reads a whole file. */
    public static Contents readContents(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > Integer.MAX_VALUE) {
                throw new SafetensorsFormatException(file + " is " + size + " bytes; files over 2 GiB are not supported");
            }
            ByteBuffer buf = ByteBuffer.allocate((int) size);
            while (buf.hasRemaining() && ch.read(buf) >= 0) {
                // read fully
            }
            buf.flip();
            return parse(buf, file.toString());
        } catch (NoSuchFileException e) {
            throw new PeftException("safetensors file not found: " + file);
        } catch (IOException e) {
            throw new PeftException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * The names and shapes of a file's tensors, from its header alone (checked as {@link #read}
     * checks it against the file's size), without reading the data: what an adapter file is
     * compared with before anything is made.
     */
    public static Map<String, long[]> readShapes(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, length);
            long headerLen = headerLength(length, size, file.toString());
            ByteBuffer header = ByteBuffer.allocate((int) headerLen);
            readFully(ch, header);
            Map<String, long[]> out = new LinkedHashMap<>();
            for (Entry e : entries(header.array(), size, new LinkedHashMap<>(), file.toString())) {
                out.put(e.name, e.shape.clone());
            }
            return out;
        } catch (NoSuchFileException e) {
            throw new PeftException("safetensors file not found: " + file);
        } catch (IOException e) {
            throw new PeftException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining() && ch.read(buf) >= 0) {
            // until full or end of file; a short read leaves the buffer partly empty, checked by the caller
        }
        buf.flip();
    }

    /** Parses the bytes of a safetensors file. */
    public static Contents parse(byte[] bytes) {
        return parse(ByteBuffer.wrap(bytes), "safetensors data");
    }

    /** The header length the first 8 bytes give, checked against the file's {@code size}. */
    private static long headerLength(ByteBuffer buf, long size, String what) {
        if (size < 8 || buf.limit() < 8) {
            throw new SafetensorsFormatException(what + " is truncated: " + size + " bytes, the header length alone needs 8");
        }
        long headerLen = buf.order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        if (headerLen < 2 || headerLen > MAX_HEADER) {
            throw new SafetensorsFormatException(what + ": header length " + Long.toUnsignedString(headerLen)
                    + " is outside [2, " + MAX_HEADER + "]");
        }
        if (8 + headerLen > size) {
            throw new SafetensorsFormatException(what + ": header length " + headerLen + " runs beyond the file ("
                    + size + " bytes)");
        }
        return headerLen;
    }

    private static Contents parse(ByteBuffer buf, String what) {
        buf.order(ByteOrder.LITTLE_ENDIAN);
        long size = buf.remaining();
        long headerLen = headerLength(buf, size, what);
        byte[] headerBytes = new byte[(int) headerLen];
        buf.position(8);
        buf.get(headerBytes);
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = entries(headerBytes, size, metadata, what);
        long dataStart = 8 + headerLen;
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        for (Entry e : entries) {
            tensors.put(e.name, new HostTensor(e.shape, decode(buf, (int) (dataStart + e.begin), e)));
        }
        return new Contents(tensors, metadata);
    }

    /** The header's tensor entries in data order, each checked, together covering the data exactly. */
    private static List<Entry> entries(byte[] headerBytes, long size, Map<String, String> metadata, String what) {
        JsonNode header;
        try {
            header = MAPPER.readTree(new String(headerBytes, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new SafetensorsFormatException(what + ": header is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (header == null || !header.isObject()) {
            throw new SafetensorsFormatException(what + ": header must be a JSON object");
        }
        long dataLen = size - 8 - headerBytes.length;
        List<Entry> entries = new ArrayList<>();
        Iterator<Map.Entry<String, JsonNode>> fields = header.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> f = fields.next();
            if (f.getKey().equals("__metadata__")) {
                readMetadata(f.getValue(), metadata, what);
            } else {
                entries.add(entry(f.getKey(), f.getValue(), dataLen, what));
            }
        }
        entries.sort(Comparator.comparingLong(Entry::begin));
        long expected = 0;
        for (Entry e : entries) {
            if (e.begin != expected) {
                throw new SafetensorsFormatException(what + ": tensor '" + e.name + "' starts at byte " + e.begin
                        + " but the previous data ends at " + expected + " (overlap or gap)");
            }
            expected = e.end;
        }
        if (expected != dataLen) {
            throw new SafetensorsFormatException(what + ": tensors cover " + expected + " data bytes, the file has "
                    + dataLen);
        }
        return entries;
    }

    private record Entry(String name, DType dtype, long[] shape, long begin, long end, int count) {
    }

    /** The element types read; all are returned as float. */
    private enum DType {
        F32(4), F16(2), BF16(2), F64(8), I64(8), I32(4), I16(2), I8(1), U8(1);

        final int bytes;

        DType(int bytes) {
            this.bytes = bytes;
        }
    }

    private static void readMetadata(JsonNode node, Map<String, String> out, String what) {
        if (!node.isObject()) {
            throw new SafetensorsFormatException(what + ": __metadata__ must be an object of strings");
        }
        node.fields().forEachRemaining(m -> {
            if (!m.getValue().isTextual()) {
                throw new SafetensorsFormatException(what + ": __metadata__['" + m.getKey() + "'] must be a string");
            }
            out.put(m.getKey(), m.getValue().asText());
        });
    }

    private static Entry entry(String name, JsonNode node, long dataLen, String what) {
        String where = what + ": tensor '" + name + "'";
        if (!node.isObject()) {
            throw new SafetensorsFormatException(where + " must be an object with dtype, shape and data_offsets");
        }
        JsonNode dt = node.get("dtype");
        if (dt == null || !dt.isTextual()) {
            throw new SafetensorsFormatException(where + " has no dtype string");
        }
        DType dtype;
        try {
            dtype = DType.valueOf(dt.asText());
        } catch (IllegalArgumentException e) {
            throw new SafetensorsFormatException(where + " has unsupported dtype '" + dt.asText() + "'; supported: "
                    + java.util.Arrays.toString(DType.values()));
        }
        JsonNode sh = node.get("shape");
        if (sh == null || !sh.isArray()) {
            throw new SafetensorsFormatException(where + " has no shape array");
        }
        long[] shape = new long[sh.size()];
        long count = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
                throw new SafetensorsFormatException(where + " has a bad shape entry " + d + " (need integers >= 0)");
            }
            shape[i] = d.asLong();
            if (shape[i] != 0 && count > Integer.MAX_VALUE / shape[i]) {
                throw new SafetensorsFormatException(where + " has shape " + sh + " with more than "
                        + Integer.MAX_VALUE + " elements");
            }
            count *= shape[i];
        }
        JsonNode off = node.get("data_offsets");
        if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).isIntegralNumber()
                || !off.get(1).isIntegralNumber() || !off.get(0).canConvertToLong() || !off.get(1).canConvertToLong()) {
            throw new SafetensorsFormatException(where + " needs data_offsets [begin, end] as two integers, got " + off);
        }
        long begin = off.get(0).asLong();
        long end = off.get(1).asLong();
        if (begin < 0 || end < begin || end > dataLen) {
            throw new SafetensorsFormatException(where + " has data_offsets [" + begin + ", " + end
                    + "] outside the " + dataLen + " data bytes");
        }
        if (end - begin != count * dtype.bytes) {
            throw new SafetensorsFormatException(where + ": shape " + sh + " of " + dtype + " needs "
                    + count * dtype.bytes + " bytes, data_offsets give " + (end - begin));
        }
        return new Entry(name, dtype, shape, begin, end, (int) count);
    }

    private static float[] decode(ByteBuffer buf, int at, Entry e) {
        float[] out = new float[e.count];
        for (int i = 0; i < out.length; i++) {
            int p = at + i * e.dtype.bytes;
            out[i] = switch (e.dtype) {
                case F32 -> buf.getFloat(p);
                case F64 -> (float) buf.getDouble(p);
                case F16 -> halfToFloat(buf.getShort(p));
                case BF16 -> Float.intBitsToFloat((buf.getShort(p) & 0xffff) << 16);
                case I64 -> buf.getLong(p);
                case I32 -> buf.getInt(p);
                case I16 -> buf.getShort(p);
                case I8 -> buf.get(p);
                case U8 -> buf.get(p) & 0xff;
            };
        }
        return out;
    }

    /** IEEE 754 binary16 to float (Java 17 has no Float.float16ToFloat). */
    static float halfToFloat(short h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13)); // inf or NaN
        }
        if (exp == 0) {
            float v = mant * 0x1p-24f; // subnormal (or zero)
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /** Serialises tensors as F32 with the given metadata, in map order. */
    public static byte[] toBytes(Map<String, HostTensor> tensors, Map<String, String> metadata) {
        ObjectNode header = MAPPER.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Map.Entry<String, HostTensor> e : tensors.entrySet()) {
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", "F32");
            var shape = t.putArray("shape");
            for (long s : e.getValue().shape()) {
                shape.add(s);
            }
            long bytes = 4L * e.getValue().data().length;
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8; // keep the data 8-byte aligned, as HF's writer does
        long total = 8L + padded + offset;
        if (total > Integer.MAX_VALUE) {
            throw new PeftException("cannot write " + total + " bytes into one safetensors file");
        }
        ByteBuffer out = ByteBuffer.allocate((int) total).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded);
        out.put(json);
        for (int i = json.length; i < padded; i++) {
            out.put((byte) ' ');
        }
        for (HostTensor t : tensors.values()) {
            for (float v : t.data()) {
                out.putFloat(v);
            }
        }
        return out.array();
    }

    /** Writes tensors as F32 atomically: a crash leaves either the old file or the new one. */
    public static void write(Path file, Map<String, HostTensor> tensors, Map<String, String> metadata) {
        AtomicFiles.write(file, toBytes(tensors, metadata));
    }
}
