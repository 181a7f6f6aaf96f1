#!/usr/bin/env bash
# test/integration/rotation/run.sh -- `tlscensus watch` follows a log rotated 100 times by rename + create and
# 100 times by copytruncate (alternating, lines cut in the middle by the rotation, the writer finishing a cut
# line in the old file or in the new one) while lines are appended; the counters must equal what was written,
# exactly (rotate.mjs). Rotations come at least two poll intervals apart (--paced 1), as logrotate's do.
# Needs node >= 20 and a built tlscensus. Evidence: artifacts/integration/rotation/ (result.json, metrics.txt,
# watch-stderr.log). Bounded: rotate.mjs gives up after 240 s; this script after 300 s.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT="$ROOT/artifacts/integration/rotation"
mkdir -p "$OUT"
[[ -f "$ROOT/dist/src/cli/main.js" ]] || { echo "rotation: build first (npm run build)" >&2; exit 2; }
timeout 300 node "$HERE/rotate.mjs" --cli "$ROOT/dist/src/cli/main.js" --out "$OUT" --rotations 100 --seed "${TLSCENSUS_IT_SEED:-1}" --paced 1
