package org.peft4j.api;

/**
 * The one exception type peft4j throws for bad input and misuse: unknown methods or backends,
 * malformed configs, missing targets, wrong shapes. Messages name the offending value and,
 * where there is a finite set, the valid choices.
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
