package org.peft4j.backend.djl;

import org.peft4j.api.backend.Backend;
import org.peft4j.api.backend.BackendProvider;

/** Registers the DJL + PyTorch backend under the name {@value #NAME}. */
public final class DjlBackendProvider implements BackendProvider {
    /** The name users select this backend by. */
    public static final String NAME = "djl";

    @Override
    public String apiVersion() {
        return org.peft4j.api.PeftApi.VERSION;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "DJL " + ai.djl.engine.Engine.getDjlVersion() + " with PyTorch (CPU), autograd via GradientCollector";
    }

    @Override
    public Backend create() {
        return new DjlBackend();
    }
}
