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
"$peft" --help > /dev/null # builds first if the sources changed, so no server start waits on Maven
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
  if [ -z "$url" ]; then
    echo "serve-bench: the server did not start within 120 s; the end of its log ($1):" >&2
    tail -20 "$1" >&2
    exit 1
  fi
}
stop() { local rss; rss=$(grep VmHWM /proc/$pid/status | awk '{print $2}'); kill -TERM $pid; wait $pid || true; echo "$rss"; }
cpu() { awk '/^cpu /{print $9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; } # steal, all (jiffies)
# load WARMUP ARGS...: one loadtest whose first WARMUP requests are left out of the figures; sets
# $result (its JSON) and $steal (% of CPU time the hypervisor gave to other guests meanwhile: this
# figure moves with it, so a run with more than a few % is worth repeating)
load() {
  local w=$1 s0 t0 s1 t1; shift
  read -r s0 t0 < <(cpu)
  result=$("$peft" loadtest --url "$url" --requests "$requests" --warmup "$w" --max-seconds 600 "$@" | tail -1)
  read -r s1 t1 < <(cpu)
  steal=$(awk -v a="$s0" -v b="$s1" -v c="$t0" -v d="$t1" 'BEGIN{printf "%.1f", 100*(b-a)/(d-c)}')
}
# rows per forward pass over the server's life, from /metrics (empty without curl)
rows_per_forward() { command -v curl > /dev/null && curl -s "$url/metrics" | awk '/^peft_batch_rows_sum/{s=$2} /^peft_batch_rows_count/{c=$2} END{if (c) printf ",\"rows_per_forward\":%.2f", s/c}'; }
line() { echo "{\"scenario\":\"$1\",\"result\":$result,\"steal_percent\":$steal$(rows_per_forward),\"peak_rss_kb\":$(stop)}"; }

models="all-MiniLM-L6-v2,$(IFS=,; echo "${names[*]}")"
# batching's gain with one forward pass at a time (all cores on it) and with the default two workers
for workers in 1 2; do
  for rows in 64 1; do
    serve /tmp/serve-bench.log --adapter-dir "$src" --workers $workers --max-batch-rows $rows
    load "$requests" --models "$models" --concurrency 16 # the warm-up also loads every adapter and JIT-compiles the server
    line "16 clients, 8 adapters + base, --workers $workers --max-batch-rows $rows"
  done
done

serve /tmp/serve-bench.log --adapter-dir "$many" --max-loaded 8
load 0 --models "$(ls "$many" | paste -sd,)" --concurrency 16
line "64 adapters, --max-loaded 8 (eviction churn)"

serve /tmp/serve-bench.log --adapter-dir "$many" --max-loaded 64
load "$requests" --models "$(ls "$many" | paste -sd,)" --concurrency 16
line "64 adapters resident"

serve /tmp/serve-bench.log --adapter-dir "$src"
load 0 --models "${names[0]},$models" --concurrency 16 --swap "${names[0]}=${names[1]}" --swap-every-ms 100
line "hot swap of ${names[0]} every 100 ms under load"
