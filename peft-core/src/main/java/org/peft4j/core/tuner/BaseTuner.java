package org.peft4j.core.tuner;

import org.peft4j.api.config.PeftConfig;
import org.peft4j.api.tuner.Tuner;

/**
 * What every tuner states about itself, given once to the constructor: the API it was built
 * against, its {@code peft_type} and its config class.
 *
 * @param <C> the method's config
 */
public abstract class BaseTuner<C extends PeftConfig> implements Tuner<C> {
    private final String apiVersion;
    private final String peftType;
    private final Class<C> configClass;

    /**
     * @param apiVersion pass {@link org.peft4j.api.PeftApi#VERSION}: the constant is compiled into
     *     the plugin, so it records the API the plugin was built against
     * @param peftType HF's {@code peft_type}, in capitals
     * @param configClass the method's config record
     */
    protected BaseTuner(String apiVersion, String peftType, Class<C> configClass) {
        this.apiVersion = apiVersion;
        this.peftType = peftType;
        this.configClass = configClass;
    }

    @Override
    public final String apiVersion() {
        return apiVersion;
    }

    @Override
    public final String peftType() {
        return peftType;
    }

    @Override
    public final Class<C> configClass() {
        return configClass;
    }
}
