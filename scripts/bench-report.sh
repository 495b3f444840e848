#!/usr/bin/env bash
# One-command speed report: builds peft-bench and prints one JSON object with the headline
# figures and ratios for this machine (about 6 minutes on 2 cores). Usage: scripts/bench-report.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q -ntp -pl peft-bench -am package -DskipTests >&2
exec java -Dai.djl.offline=true -cp peft-bench/target/peft-bench.jar org.peft4j.bench.SpeedReport
