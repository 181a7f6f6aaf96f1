#!/usr/bin/env bash
# test/integration/browser/run.sh -- the HTML report in a real browser: Debian's chromium, driven by
# playwright-core (check.mjs). The report is made from the bundled sample log plus a log of hostile names
# (test/fixtures/golden/hostile.log: <script>, "><img onerror=…>, <svg onload=…>, terminal escapes, in hosts,
# TLS lines and failure details). Checks: no dialog, no console error, no request but the file itself, no
# injected element, the charts drawn, the page fits a phone; saves screenshots (desktop, phone) and a PDF print.
# Needs: chromium (apt-packages), node >= 20, npm ci (playwright-core), a built tlscensus.
# Evidence: artifacts/integration/browser/ (report.html, report-desktop.png, report-phone.png, report.pdf, check.json).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT="$ROOT/artifacts/integration/browser"
mkdir -p "$OUT"
[[ -f "$ROOT/dist/src/cli/main.js" ]] || { echo "browser: build first (npm run build)" >&2; exit 2; }
command -v chromium >/dev/null || { echo "browser: chromium not found (apt-get install chromium)" >&2; exit 2; }
node "$ROOT/dist/src/cli/main.js" report "$ROOT/samples/maillog" "$ROOT/test/fixtures/golden/hostile.log" \
  --year 2026 --timezone UTC --format html --top 100 --quiet > "$OUT/report.html"
cd "$ROOT"
timeout 180 node "$HERE/check.mjs" --report "$OUT/report.html" --out "$OUT" --chromium "$(command -v chromium)"
