#!/usr/bin/env bash
# Trains every method on the same SST-2 budget (1 epoch over a seeded sample of TRAIN_EXAMPLES
# sentences, each method's default config and learning rate, full dev set) and prints the README's
# results table.
#   scripts/results-table.sh [TRAIN_EXAMPLES] [METHOD:BACKEND[:EXAMPLES] ...]
# Each run's JSON line is kept in runs/results/<method>-<backend>.json; the table is printed last.
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-4000}"
shift || true
methods=("$@")
if [ ${#methods[@]} -eq 0 ]; then
  methods=(lora:djl adapter:djl ia3:djl prefix:djl prompt:djl p_tuning:djl full:djl lora:nd4j:1000)
fi
mkdir -p runs/results
for entry in "${methods[@]}"; do
  IFS=: read -r method backend count <<< "$entry"
  count="${count:-$examples}"
  out="runs/results/${method}-${backend}"
  echo "== ${method} on ${backend}, ${count} training sentences" >&2
  ./peft train --method "$method" --backend "$backend" --max-train-examples "$count" --out "$out" \
    | tail -n 1 > "${out}.json"
done
echo "| method | backend | train sentences | SST-2 dev accuracy | trainable % | train s | sentences/s | peak heap MB | peak RSS MB | saved bytes |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for entry in "${methods[@]}"; do
  IFS=: read -r method backend count <<< "$entry"
  python3 - "runs/results/${method}-${backend}.json" "$method" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
size = r.get("adapter_bytes", r.get("model_bytes"))
print(f"| {sys.argv[2]} | {r['backend']} | {r['train_examples']:,} | {r['accuracy']:.4f} | {r['trainable_percent']:.3f} | "
      f"{r['train_seconds']:.0f} | {r['examples_per_second']:.1f} | {r['peak_heap_mb']} | {r['peak_rss_mb']} | {size:,} |")
PY
done
