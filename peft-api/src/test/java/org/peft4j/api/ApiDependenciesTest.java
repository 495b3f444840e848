package org.peft4j.api;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The SPI stays small for plugin authors: what peft-api brings onto their classpath has no DI
 * container, no JSON databind and no tensor engine (its test classpath is its own dependencies
 * plus JUnit and AssertJ).
 */
class ApiDependenciesTest {

    @ParameterizedTest
    @ValueSource(strings = {"com.google.inject.Guice", "com.fasterxml.jackson.databind.ObjectMapper",
            "ai.djl.ndarray.NDArray", "org.nd4j.linalg.factory.Nd4j", "org.peft4j.core.PeftModel"})
    void pluginAuthorsDoNotInherit(String className) {
        assertThatThrownBy(() -> Class.forName(className)).isInstanceOf(ClassNotFoundException.class);
    }
}
