#!/usr/bin/env bash
# test/integration/metrics-load/run.sh -- 10,000 scrapes of `tlscensus watch`'s /metrics on 127.0.0.1 while lines
# arrive (load.mjs): latency percentiles per 1,000 scrapes and RSS at start and end must stay flat (generous
# bounds), and the handshake series stay capped. Loopback only; bounded (240 s in load.mjs, 300 s here).
# Evidence: artifacts/integration/metrics-load/result.json.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT="$ROOT/artifacts/integration/metrics-load"
mkdir -p "$OUT"
[[ -f "$ROOT/dist/src/cli/main.js" ]] || { echo "metrics-load: build first (npm run build)" >&2; exit 2; }
timeout 300 node "$HERE/load.mjs" --cli "$ROOT/dist/src/cli/main.js" --out "$OUT" --scrapes 10000
