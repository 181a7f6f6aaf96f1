#!/usr/bin/env bash
# test/integration/rotation/run.sh -- `tlscensus watch` follows a log rotated 100 times by rename + create and
# 100 times by copytruncate, in a random order and *unpaced* (as fast as the writer can: many rotations between
# two looks), lines cut in the middle by the rotation, the writer finishing a cut line in the old file or in the
# new one, rotated files compressed to .gz and deleted a while after their rotation; the counters must equal
# what was written, exactly (rotate.mjs). Six runs: seeds 1-6, `.N` and dated names, --poll 25ms, the default
# 500ms, and 2s (where only inotify and the fast polling after a rotation keep up); seeds 5 and 6 rotate 300
# times in each style, so that rotated files are deleted (and their inodes reused) while the rotations go on.
# Rotated files are compressed 500 ms after their rotation: tlscensus must have looked at a file before it is
# compressed (ARCHITECTURE.md, watch: limits); it looks within milliseconds, 500 ms leaves room for a loaded CI
# host. TLSCENSUS_IT_SEED=N runs seed N only (naming and poll by N as below).
# Needs node >= 20 and a built tlscensus. Evidence: artifacts/integration/rotation/seed-N/ (result.json,
# metrics.txt, watch-stderr.log) and summary.json. Bounded: each run gives up after 90 s; this script after 600 s.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT="$ROOT/artifacts/integration/rotation"
mkdir -p "$OUT"
[[ -f "$ROOT/dist/src/cli/main.js" ]] || { echo "rotation: build first (npm run build)" >&2; exit 2; }

run_all() {
  set -uo pipefail
  local seeds=(1 2 3 4 5 6) polls=(25ms 25ms 500ms 500ms 2s 2s) counts=(100 100 100 100 300 300) failed=0 i seed naming
  [[ -n "${TLSCENSUS_IT_SEED:-}" ]] && seeds=("$TLSCENSUS_IT_SEED")
  : >"$OUT/summary.jsonl"
  for seed in "${seeds[@]}"; do
    i=$(((seed - 1) % 6))
    naming=numeric
    ((seed % 2 == 0)) && naming=dated
    echo "rotation: seed $seed, $naming names, --poll ${polls[$i]}, ${counts[$i]} rotations per style"
    if ! node "$HERE/rotate.mjs" --cli "$ROOT/dist/src/cli/main.js" --out "$OUT/seed-$seed" --rotations "${counts[$i]}" \
      --seed "$seed" --naming "$naming" --poll "${polls[$i]}" --compress-after 500 --delete-after 1500 \
      --deadline 90 | tee "$OUT/seed-$seed.log"; then
      failed=1
    fi
    grep -m 1 '^{' "$OUT/seed-$seed.log" >>"$OUT/summary.jsonl" || echo "{\"seed\":$seed,\"error\":\"no result\"}" >>"$OUT/summary.jsonl"
  done
  node -e '
    const fs = require("fs");
    const runs = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean).map(JSON.parse);
    fs.writeFileSync(process.argv[2], JSON.stringify(runs, null, 2) + "\n");
    for (const r of runs) if (r.error) console.log(`seed ${r.seed}: ${r.error}`); else console.log(`seed ${r.seed} ${r.naming} --poll ${r.poll}: ${r.rotations.rename} renames + ${r.rotations.copytruncate} copytruncates in ${r.writeMs} ms; lines ${r.linesCounted}/${r.linesWritten}, handshakes ${r.handshakesCounted}/${r.sessionsWritten}`);
  ' "$OUT/summary.jsonl" "$OUT/summary.json"
  rm -f "$OUT/summary.jsonl"
  return "$failed"
}

export -f run_all
export HERE ROOT OUT
timeout 600 bash -c run_all
