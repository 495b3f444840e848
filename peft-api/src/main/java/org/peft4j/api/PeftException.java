package org.peft4j.api;

/**
 * The one exception type peft4j throws: every error it reports for bad input, bad files or
 * misuse is a {@code PeftException}, so callers catch one type. That covers unknown methods or
 * backends, malformed configs and model folders, missing targets, wrong shapes, misuse of the
 * API (a module child registered twice, {@code item()} of a tensor that is not one element,
 * scopes closed out of order, nested per-row adapter choices) and a backend engine that returns
 * a result of the wrong shape. Malformed safetensors files raise
 * {@code org.peft4j.core.io.SafetensorsFormatException}, a subtype, for callers that want to
 * tell them apart.
 *
 * <p>Messages name the offending value and, where there is a finite set, the valid choices.
 * Failures peft4j does not detect itself (an {@link OutOfMemoryError}, say) propagate
 * unchanged.
 */
public class PeftException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public PeftException(String message) {
        super(message);
    }

    public PeftException(String message, Throwable cause) {
        super(message, cause);
    }
}
