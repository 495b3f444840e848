package org.peft4j.serve;

/**
 * A request the server answers with an error: the HTTP status and OpenAI's error body
 * {@code {"error":{"message","type","code"}}}. The message is meant for the client; it never holds
 * a stack trace.
 */
final class ApiError extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int status;
    private final String type;
    private final String code;

    ApiError(int status, String type, String code, String message) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.code = code;
    }

    static ApiError badRequest(String message) {
        return new ApiError(400, "invalid_request_error", "bad_request", message);
    }

    static ApiError unauthorized() {
        return new ApiError(401, "authentication_error", "invalid_api_key",
                "missing or wrong API key; send the header 'Authorization: Bearer KEY'");
    }

    static ApiError forbidden(String message) {
        return new ApiError(403, "permission_error", "forbidden", message);
    }

    static ApiError notFound(String code, String message) {
        return new ApiError(404, "invalid_request_error", code, message);
    }

    static ApiError tooLarge(String message) {
        return new ApiError(413, "invalid_request_error", "request_too_large", message);
    }

    static ApiError queueFull(String message) {
        return new ApiError(429, "rate_limit_error", "queue_full", message);
    }

    static ApiError shuttingDown() {
        return new ApiError(503, "server_error", "shutting_down", "the server is shutting down");
    }

    int status() {
        return status;
    }

    String type() {
        return type;
    }

    String code() {
        return code;
    }
}
