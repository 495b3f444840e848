package org.peft4j.models.data;

/**
 * One labelled text (or text pair).
 *
 * @param text the text
 * @param pair the second text of a pair, or null
 * @param label class index, from 0
 */
public record Example(String text, String pair, int label) {

    /** Characters of text and pair together: a cheap proxy for token length when batching. */
    public int charLength() {
        return text.length() + (pair == null ? 0 : pair.length());
    }
}
