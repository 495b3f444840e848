#!/usr/bin/env bash
# Measures `peft serve` on this machine (issue 14): cross-adapter batching vs one row per forward
# pass, eviction churn, hot swaps under load, resident memory with 64 adapters.
#   scripts/serve-bench.sh ADAPTERS_DIR [REQUESTS]
# ADAPTERS_DIR holds LoRA adapter folders of MiniLM (a1..a8, for example from
#   ./peft train --seed N --max-steps 2 --out ADAPTERS_DIR/aN). Everything runs on 127.0.0.1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$(cd "$1" && pwd)"; requests="${2:-2000}"
peft="$root/peft"
lscpu | grep -E "Model name|^CPU\(s\)" >&2
grep -o -w -E 'avx512f|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ' >&2; echo >&2
mapfile -t names < <(cd "$src" && for d in */; do [ -f "$d/adapter_config.json" ] && echo "${d%/}"; done)
many="$(mktemp -d)"; trap 'rm -rf "$many"; kill $(jobs -p) 2>/dev/null || true' EXIT
for i in $(seq 1 64); do cp -r "$src/${names[$(( (i - 1) % ${#names[@]} ))]}" "$many/m$i"; done

serve() { # serve LOGFILE FLAGS... : starts a server, sets $url and $pid
  "$peft" serve --port 0 "${@:2}" > "$1" 2>&1 &
  pid=$!
  for _ in $(seq 1 240); do grep -q "serving on" "$1" 2>/dev/null && break; sleep 0.5; done
  url=$(sed -n 's/^peft: serving on //p' "$1")
}
stop() { local rss; rss=$(grep VmHWM /proc/$pid/status | awk '{print $2}'); kill -TERM $pid; wait $pid || true; echo "$rss"; }
load() { "$peft" loadtest --url "$url" --requests "$requests" --max-seconds 600 "$@" | tail -1; }

models="all-MiniLM-L6-v2,$(IFS=,; echo "${names[*]}")"
for rows in 64 1; do
  serve /tmp/serve-bench.log --adapter-dir "$src" --max-batch-rows $rows
  load --models "$models" --concurrency 16 > /dev/null  # warm-up: loads every adapter, JIT
  echo "{\"scenario\":\"16 clients, 8 adapters + base, --max-batch-rows $rows\",\"result\":$(load --models "$models" --concurrency 16),\"peak_rss_kb\":$(stop)}"
done

serve /tmp/serve-bench.log --adapter-dir "$many" --max-loaded 8
echo "{\"scenario\":\"64 adapters, --max-loaded 8 (eviction churn)\",\"result\":$(load --models "$(ls "$many" | paste -sd,)" --concurrency 16),\"peak_rss_kb\":$(stop)}"

serve /tmp/serve-bench.log --adapter-dir "$many" --max-loaded 64
load --models "$(ls "$many" | paste -sd,)" --concurrency 16 > /dev/null
echo "{\"scenario\":\"64 adapters resident\",\"result\":$(load --models "$(ls "$many" | paste -sd,)" --concurrency 16),\"peak_rss_kb\":$(stop)}"

serve /tmp/serve-bench.log --adapter-dir "$src"
echo "{\"scenario\":\"hot swap of ${names[0]} every 100 ms under load\",\"result\":$(load --models "${names[0]},$models" --concurrency 16 --swap "${names[0]}=${names[1]}" --swap-every-ms 100),\"peak_rss_kb\":$(stop)}"
