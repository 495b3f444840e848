package com.example.countingbackend;

import org.peft4j.api.PeftApi;
import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.BackendProvider;
import org.peft4j.backend.djl.DjlBackendProvider;

/** Registers {@link CountingBackend} (over DJL) through this module's own service file. */
public final class CountingBackendProvider implements BackendProvider {
    static final String NAME = "counting";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String apiVersion() {
        return PeftApi.VERSION;
    }

    @Override
    public String description() {
        return "counts tensors and gradient passes, computing on DJL/PyTorch (a third-party example)";
    }

    @Override
    public Backend create() {
        return new CountingBackend(new DjlBackendProvider().create());
    }
}
