package org.peft4j.core.io;

import org.peft4j.api.PeftException;

/** A safetensors file that is malformed, truncated or hostile; the message names the problem. */
public class SafetensorsFormatException extends PeftException {
    private static final long serialVersionUID = 1L;

    public SafetensorsFormatException(String message) {
        super(message);
    }

    public SafetensorsFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
