#!/usr/bin/env bash
# test/integration/postfix/verify-level.sh -- what-if's certificate check against what real Postfix does.
#
# The log run.sh drove was written at smtp_tls_security_level = may, and the smtp client logged the instance's
# self-signed certificate as "Untrusted TLS connection established to localhost[127.0.0.1]:…". So:
#   1. `tlscensus whatif --main-cf` with smtp_tls_security_level = verify must call that server refused (likely),
#      because its certificate did not verify;
#   2. the same instance, switched to level verify, must then really defer a message to it: "status=deferred
#      (Server certificate not verified)" (Postfix smtp_proto.c), with the handshake logged "Untrusted" again.
#
# Usage: verify-level.sh WORKDIR BASE_PORT OUT CLI YEAR   (run.sh calls it after its own checks passed; the
#        instance in WORKDIR is stopped, its log copied to OUT/maillog)
# Exit status: 0 pass, 1 a check failed, 2 setup error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORKDIR=$1 BASE_PORT=$2 OUT=$3 CLI=$4 YEAR=$5
CONF="$WORKDIR/etc"
MAILLOG="$WORKDIR/log/maillog"
say() { printf '[postfix-it verify] %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

# ---- 1. the prediction, from the log written at level may
printf 'smtpd_tls_security_level = may\nsmtp_tls_security_level = verify\n' > "$OUT/verify-main.cf"
node "$CLI" whatif --format json --year "$YEAR" --timezone local --main-cf "$OUT/verify-main.cf" "$OUT/maillog" \
  > "$OUT/whatif-verify.json"
node -e '
  const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  const out = r.peers.filter((p) => p.direction === "outbound" && p.peer.ip === "127.0.0.1");
  if (out.length !== 1) { console.error(`expected one outbound peer 127.0.0.1, got ${out.length}`); process.exit(1); }
  const p = out[0];
  console.error(`whatif at verify: ${p.peer.host}[${p.peer.ip}] ${p.verdict}/${p.certainty}: ${p.reason}`);
  if (p.verdict !== "refused" || p.certainty !== "likely" || !/Untrusted/.test(p.reason)) process.exit(1);
' "$OUT/whatif-verify.json" || fail "whatif did not call the Untrusted server refused at level verify ($OUT/whatif-verify.json)"

# ---- 2. what real Postfix does at level verify
postconf -c "$CONF" -e 'smtp_tls_security_level = verify'
bash "$HERE/postfix-instance.sh" restart "$WORKDIR" "$BASE_PORT"
lines_before=$(wc -l < "$MAILLOG")
relay=$((BASE_PORT + 2))
swaks --server 127.0.0.1 --port "$relay" --from sender@test.local --to user@tls13.relay.test \
  --helo verify.client.test --header 'Subject: level verify' >/dev/null \
  || fail "the relay listener did not accept the message (swaks)"
deferred=""
for _ in $(seq 1 100); do
  deferred=$(tail -n +"$((lines_before + 1))" "$MAILLOG" | grep -E 'postfix/smtp-tls13/smtp|postfix/smtp\[' \
    | grep -F 'status=deferred (Server certificate not verified)' || true)
  [[ -n "$deferred" ]] && break
  sleep 0.2
done
handshake=$(tail -n +"$((lines_before + 1))" "$MAILLOG" | grep -F 'Untrusted TLS connection established to localhost[127.0.0.1]' || true)
postsuper -c "$CONF" -d ALL >/dev/null 2>&1 || true
bash "$HERE/postfix-instance.sh" stop "$WORKDIR"
tail -n +"$((lines_before + 1))" "$MAILLOG" > "$OUT/maillog.verify"
[[ -n "$handshake" ]] || fail "no 'Untrusted TLS connection established' at level verify (log: $OUT/maillog.verify)"
[[ -n "$deferred" ]] || fail "real Postfix at level verify did not defer the Untrusted server (log: $OUT/maillog.verify)"
say "real Postfix at level verify: ${deferred##*: }"
say "PASS: what-if's verdict for the Untrusted server is what real Postfix does at level verify"
