#!/usr/bin/env bash
# test/integration/postfix/run.sh -- tlscensus against a REAL Postfix (Debian package), end to end.
#
#   1. starts a private throwaway Postfix on 127.0.0.1 (postfix-instance.sh: open/strict/relay/smtps listeners
#      and outbound smtp transports; nothing of the system instance is used),
#   2. maps 127.0.0.9 to mx9.peer.test in /etc/hosts for the run (a named client; restored on every exit path),
#   3. drives sessions with known outcomes from 127.0.0.1-127.0.0.9 (drive.mjs) and writes truth.json,
#   4. stops Postfix and keeps the log: OUT/maillog + OUT/truth.json,
#   5. runs `node dist/src/cli/main.js report --format json --year YYYY OUT/maillog` and compares every count
#      with the truth (check.mjs; writes OUT/report.json),
#   6. checks what-if with the instance's master.cf against the same Postfix (master-cf.sh: its own settings affect
#      no peer of its log; a listener raised to >=TLSv1.3 refuses the TLSv1.2 client what-if said it would, there
#      only),
#   7. checks what-if at smtp_tls_security_level = verify against the same Postfix switched to that level
#      (verify-level.sh: a CA-signed server passes and a self-signed one is refused, by both).
#
# Usage: run.sh [--drive-only] [--out DIR]
#   --drive-only   stop after step 4 (no tlscensus needed), e.g. to regenerate sample-run/
#   --out DIR      where maillog, truth.json and report.json go (default: artifacts/integration/postfix)
# Environment: TLSCENSUS_IT_PORT (first base port tried, default 2545; 4 consecutive ports are used and the next
#   free block of 10 is taken when busy), TLSCENSUS_IT_WORKDIR (the instance's directory, wiped; default
#   /tmp/tlscensus-it-postfix.PID, removed after a passing run, kept after a failure for inspection).
# Needs: root, Debian packages postfix and openssl (see apt-packages), node >= 20, a built tlscensus (npm run build).
# Exit status: 0 pass, 1 a check failed, 2 setup error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT="$ROOT/artifacts/integration/postfix"
WORKDIR=${TLSCENSUS_IT_WORKDIR:-/tmp/tlscensus-it-postfix.$$}
FIRST_PORT=${TLSCENSUS_IT_PORT:-2545}
DRIVE_ONLY=0
while (($#)); do
  case "$1" in
    --drive-only) DRIVE_ONLY=1 ;;
    --out) OUT=$(realpath -m "$2"); shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

T0=$SECONDS
say() { printf '[postfix-it] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 2; }

[[ $(id -u) == 0 ]] || die "must run as root (starts Postfix, edits /etc/hosts)"
for c in postfix postqueue postconf openssl node runuser flock; do
  command -v "$c" >/dev/null || die "'$c' not found; install the packages in $HERE/apt-packages (test/integration/lib/apt-install.sh)"
done

# ------------------------------------------------------------------ cleanup ----
HOSTS_MARK="# tlscensus-it pid=$$"
HOSTS_ADDED_NL=0
cleanup() {
  local rc=$?
  set +e
  bash "$HERE/postfix-instance.sh" stop "$WORKDIR"
  if ((rc == 0)); then rm -rf "$WORKDIR"; elif [[ -d "$WORKDIR" ]]; then say "instance directory kept: $WORKDIR"; fi
  if grep -qF "$HOSTS_MARK" /etc/hosts 2>/dev/null; then
    # rewrite in place (keeps the inode: /etc/hosts is often a bind mount)
    grep -vF "$HOSTS_MARK" /etc/hosts > "$WORKDIR.hosts.tmp" && cat "$WORKDIR.hosts.tmp" > /etc/hosts
    rm -f "$WORKDIR.hosts.tmp"
    if ((HOSTS_ADDED_NL)) && [[ -z "$(tail -c1 /etc/hosts)" ]]; then truncate -s -1 /etc/hosts; fi
    say "restored /etc/hosts"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ /etc/hosts ----
# Drop lines a killed earlier run left behind, then name 127.0.0.9 with a line of our own (even when another
# line names it already: a duplicate is harmless, and a concurrent run removing its line must not unname it).
while read -r pid; do
  if ! kill -0 "$pid" 2>/dev/null; then
    grep -vF "# tlscensus-it pid=$pid" /etc/hosts > "$WORKDIR.hosts.tmp" && cat "$WORKDIR.hosts.tmp" > /etc/hosts
    rm -f "$WORKDIR.hosts.tmp"
    say "removed a stale /etc/hosts line of run $pid"
  fi
done < <(grep -o '# tlscensus-it pid=[0-9]*$' /etc/hosts | sed 's/.*=//')
HOSTS_ADDED_NL=0
if [[ -s /etc/hosts && -n "$(tail -c1 /etc/hosts)" ]]; then   # no final newline: add one (taken back later)
  echo >> /etc/hosts
  HOSTS_ADDED_NL=1
fi
printf '127.0.0.9 mx9.peer.test %s\n' "$HOSTS_MARK" >> /etc/hosts
say "added '127.0.0.9 mx9.peer.test' to /etc/hosts for this run"

# ------------------------------------------------------------------ Postfix ----
port_block_free() {
  node -e '
    const net = require("node:net");
    const base = Number(process.argv[1]);
    const one = (p) => new Promise((ok) => {
      const s = net.createServer();
      s.once("error", () => ok(false));
      s.listen({ host: "127.0.0.1", port: p, exclusive: true }, () => s.close(() => ok(true)));
    });
    Promise.all([0, 1, 2, 3].map((i) => one(base + i))).then((r) => process.exit(r.every(Boolean) ? 0 : 1));
  ' "$1"
}
# Concurrent runs (two checkouts, two engineers) must not pick the same ports: choosing a block and starting
# Postfix on it is one critical section. (Checking alone is not enough: a run that checked while another was
# still generating its key would start a second master on the same ports -- seen on this kernel.)
exec 9>/tmp/tlscensus-it-postfix.lock
flock -w 180 9 || die "waited 180 s for /tmp/tlscensus-it-postfix.lock (another run starting Postfix?)"
# A run killed with SIGKILL leaves its Postfix running: stop instances whose run is gone (directories are kept).
for d in /tmp/tlscensus-it-postfix.*; do
  pid=${d##*.}
  [[ -d "$d" && "$pid" =~ ^[0-9]+$ ]] || continue
  kill -0 "$pid" 2>/dev/null || bash "$HERE/postfix-instance.sh" stop "$d" 9>&-
done
BASE_PORT=""
for ((p = FIRST_PORT; p < FIRST_PORT + 100; p += 10)); do
  if port_block_free "$p"; then BASE_PORT=$p; break; fi
  say "127.0.0.1:$p-$((p + 3)) busy, trying $((p + 10))"
done
[[ -n "$BASE_PORT" ]] || die "no free block of 4 ports in 127.0.0.1:$FIRST_PORT-$((FIRST_PORT + 99))"

bash "$HERE/postfix-instance.sh" start "$WORKDIR" "$BASE_PORT" 9>&-   # the daemons must not inherit the lock
exec 9>&-   # release the lock: our ports are now visibly in use

# ------------------------------------------------------------------ sessions ----
mkdir -p "$OUT"
rm -f "$OUT/maillog" "$OUT/truth.json" "$OUT/report.json"
say "driving sessions (drive.mjs)"
drive_rc=0
node "$HERE/drive.mjs" --workdir "$WORKDIR" --base-port "$BASE_PORT" --out "$OUT/truth.json" || drive_rc=$?
# The port lock again, held until verify-level.sh has started this instance once more (master-cf.sh starts and
# stops it before, under the same lock): while it is stopped our
# ports look free, and a run choosing ports then would start a second master on them (a review).
exec 9>/tmp/tlscensus-it-postfix.lock
flock -w 180 9 || die "waited 180 s for /tmp/tlscensus-it-postfix.lock (another run starting Postfix?)"
bash "$HERE/postfix-instance.sh" stop "$WORKDIR"
cp "$WORKDIR/log/maillog" "$OUT/maillog"
chmod a+r "$OUT/maillog" "$OUT/truth.json" 2>/dev/null || true
say "log: $OUT/maillog ($(wc -l < "$OUT/maillog") lines); truth: $OUT/truth.json"
if ((drive_rc != 0)); then
  say "FAIL: the Postfix sessions did not all behave as planned (drive.mjs exit $drive_rc; see above)"
  exit 1
fi
say "Postfix part OK in $((SECONDS - T0)) s"

if ((DRIVE_ONLY)); then
  say "--drive-only: not running tlscensus"
  exit 0
fi

# ------------------------------------------------------------------ tlscensus ----
CLI="$ROOT/dist/src/cli/main.js"
[[ -f "$CLI" ]] || { say "FAIL: $CLI does not exist (run 'npm run build' first)"; exit 1; }
if node "$HERE/check.mjs" --truth "$OUT/truth.json" --log "$OUT/maillog" --cli "$CLI" --report-out "$OUT/report.json"; then
  say "PASS: tlscensus report equals the truth ($((SECONDS - T0)) s)"
else
  say "FAIL: tlscensus report differs from the truth (see above; report: $OUT/report.json)"
  exit 1
fi

YEAR=$(node -e 'console.log(JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")).year)' "$OUT/truth.json")

# ------------------------------------------------------------------ what-if with master.cf ----
master_rc=0
bash "$HERE/master-cf.sh" "$WORKDIR" "$BASE_PORT" "$OUT" "$CLI" "$YEAR" || master_rc=$?
((master_rc == 0)) || exit "$master_rc"

# ------------------------------------------------------------------ what-if at level verify ----
verify_rc=0
bash "$HERE/verify-level.sh" "$WORKDIR" "$BASE_PORT" "$OUT" "$CLI" "$YEAR" || verify_rc=$?
((verify_rc == 0)) || exit "$verify_rc"
say "PASS: all checks ($((SECONDS - T0)) s)"
