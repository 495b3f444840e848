/**
 * Bottleneck adapters (Houlsby, Pfeiffer, parallel) as a peft4j tuner plugin.
 *
 * <p>HF PEFT has no bottleneck adapters (its issue #244), so peft4j defines a layout in the same
 * spirit: an adapter folder holds {@code adapter_config.json} with {@code "peft_type": "BOTTLENECK"}
 * and AdapterHub's key names (see {@link org.peft4j.adapter.BottleneckConfig}), and
 * {@code adapter_model.safetensors} with, for each insertion point the adapter occupies,
 * <pre>
 * base_model.model.&lt;insertion point path&gt;.adapter_down.weight        (m, in)
 * base_model.model.&lt;insertion point path&gt;.adapter_down.bias          (m)
 * base_model.model.&lt;insertion point path&gt;.adapter_up.weight          (d, m)
 * base_model.model.&lt;insertion point path&gt;.adapter_up.bias            (d)
 * base_model.model.&lt;insertion point path&gt;.adapter_norm_before.weight (d)   with ln_before
 * base_model.model.&lt;insertion point path&gt;.adapter_norm_before.bias   (d)   with ln_before
 * </pre>
 * for example {@code base_model.model.bert.encoder.layer.0.output.adapter.adapter_up.weight}, plus
 * the {@code modules_to_save} parameters. {@code in} is d for adapters in series and the
 * sub-layer's input size for parallel ones.
 */
package org.peft4j.adapter;
