#!/usr/bin/env bash
# test/integration/postfix/verify-level.sh -- what-if's certificate check against what real Postfix does.
#
# On the instance run.sh built (and stopped), in a log of its own:
#   1. at smtp_tls_security_level = may, with a CA as trust anchor (smtp_tls_CAfile), the smtp client delivers to
#      two servers: localhost[127.0.0.1], whose certificate that CA signed ("Trusted TLS connection established"),
#      and 127.0.0.2, which presents the instance's self-signed certificate ("Untrusted");
#   2. `tlscensus whatif --main-cf` for level verify with the same CA must call the first unaffected and the
#      second refused (likely) from that log alone;
#   3. the same instance switched to level verify must then really deliver to the first ("Verified …",
#      status=sent) and defer the second ("status=deferred (Server certificate not verified)", smtp_proto.c).
# A what-if without trust anchors in its main.cf must refuse both (nothing verifies; the audit warns too).
#
# Usage: verify-level.sh WORKDIR BASE_PORT OUT CLI YEAR   (run.sh calls it after its own checks passed, with the
#        port lock /tmp/tlscensus-it-postfix.lock held on fd 9 since it stopped the instance; released here once the
#        instance listens again, and the instance is then only reloaded, never stopped, until the end)
# Exit status: 0 pass, 1 a check failed, 2 setup error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORKDIR=$1 BASE_PORT=$2 OUT=$3 CLI=$4 YEAR=$5
CONF="$WORKDIR/etc"
TLS="$WORKDIR/tls"
MAILLOG="$WORKDIR/log/maillog"
OPEN=$BASE_PORT
RELAY=$((BASE_PORT + 2))
say() { printf '[postfix-it verify] %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
die() { say "ERROR: $*"; exit 2; }
command -v swaks >/dev/null || die "'swaks' not found; install the packages in $HERE/apt-packages"

# ---- certificates: a CA, a server certificate it signed for "localhost", and the instance's self-signed one
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=tlscensus test CA" \
  -keyout "$TLS/ca.key" -out "$TLS/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$TLS/good.key" -out "$TLS/good.csr" 2>/dev/null
printf 'subjectAltName = DNS:localhost\n' > "$TLS/good.ext"
openssl x509 -req -in "$TLS/good.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" -CAcreateserial -days 30 \
  -extfile "$TLS/good.ext" -out "$TLS/good.pem" 2>/dev/null
chmod 600 "$TLS/good.key" "$TLS/ca.key"

# ---- 1. level may, with the CA as trust anchor
postconf -c "$CONF" -e "smtpd_tls_cert_file = $TLS/good.pem" "smtpd_tls_key_file = $TLS/good.key" \
  "smtp_tls_CAfile = $TLS/ca.pem"
postconf -c "$CONF" -M "127.0.0.2:$OPEN/inet = 127.0.0.2:$OPEN inet n - n - - smtpd -o cleanup_service_name=cleanup-sink -o smtpd_tls_cert_file=$TLS/cert.pem -o smtpd_tls_key_file=$TLS/key.pem"
printf 'good.relay.test smtp-tls13:[localhost]:%s\nbad.relay.test smtp-tls13:[127.0.0.2]:%s\n' "$OPEN" "$OPEN" \
  >> "$CONF/transport"

# Sends one message to user@DOMAIN through the relay listener and waits (30 s at most) for its delivery result.
deliver() {
  local domain=$1
  swaks --server 127.0.0.1 --port "$RELAY" --from sender@test.local --to "user@$domain" \
    --helo verify.client.test --header "Subject: level check, $domain" >/dev/null \
    || fail "the relay listener did not accept the message to $domain (swaks)"
  for _ in $(seq 1 150); do
    tail -n +"$from" "$MAILLOG" | grep -qE "to=<user@${domain//./\\.}>.* status=(sent|deferred|bounced)" && return 0
    sleep 0.2
  done
  fail "no delivery result for the message to $domain within 30 s (log: $MAILLOG)"
}
# The log from line `from` on, up to now, into FILE.
slice() { tail -n +"$from" "$MAILLOG" > "$1"; }

bash "$HERE/postfix-instance.sh" restart "$WORKDIR" "$BASE_PORT" 9>&-   # the daemons must not inherit the lock
exec 9>&-   # our ports are in use again: release the lock run.sh took
from=$(($(wc -l < "$MAILLOG") + 1))
# One at a time, the CA-signed server first: what-if dates the log's trust anchors from its first verified
# certificate, so the self-signed server's delivery must not come before it.
deliver good.relay.test
deliver bad.relay.test
slice "$OUT/maillog.may"
grep -qF ': Trusted TLS connection established to localhost[127.0.0.1]' "$OUT/maillog.may" \
  || fail "at level may the CA-signed server was not logged Trusted (log: $OUT/maillog.may)"
grep -qF ': Untrusted TLS connection established to 127.0.0.2[127.0.0.2]' "$OUT/maillog.may" \
  || fail "at level may the self-signed server was not logged Untrusted (log: $OUT/maillog.may)"

# ---- 2. the prediction, from the log written at level may
# verdicts IP → "verdict/certainty" of the outbound peers of `whatif --main-cf FILE` on the may log.
verdicts() {
  node "$CLI" whatif --format json --year "$YEAR" --timezone local --main-cf "$1" "$OUT/maillog.may" > "$1.json"
  node -e '
    const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    for (const p of r.peers) if (p.direction === "outbound") console.log(`${p.peer.ip} ${p.verdict}/${p.certainty}`);
  ' "$1.json" | sort
}
printf 'smtp_tls_security_level = verify\nsmtp_tls_CAfile = %s\n' "$TLS/ca.pem" > "$OUT/verify-main.cf"
got=$(verdicts "$OUT/verify-main.cf")
want=$'127.0.0.1 unaffected/likely\n127.0.0.2 refused/likely'
[[ "$got" == "$want" ]] || fail "whatif at verify with the CA: got [$got], want [$want] ($OUT/verify-main.cf.json)"
printf 'smtp_tls_security_level = verify\n' > "$OUT/verify-no-anchors.cf"
got=$(verdicts "$OUT/verify-no-anchors.cf")
want=$'127.0.0.1 refused/likely\n127.0.0.2 refused/likely'
[[ "$got" == "$want" ]] || fail "whatif at verify without trust anchors: got [$got], want [$want]"
say "whatif predicts: localhost[127.0.0.1] unaffected, 127.0.0.2 refused (and both refused without trust anchors)"

# ---- 3. what real Postfix does at level verify (a reload: new smtp processes read the new level)
postconf -c "$CONF" -e 'smtp_tls_security_level = verify'
postfix -c "$CONF" reload >/dev/null 2>&1 || fail "postfix reload failed"
sleep 1
from=$(($(wc -l < "$MAILLOG") + 1))
deliver good.relay.test
deliver bad.relay.test
slice "$OUT/maillog.verify"
postsuper -c "$CONF" -d ALL >/dev/null 2>&1 || true
bash "$HERE/postfix-instance.sh" stop "$WORKDIR"
grep -qF ': Verified TLS connection established to localhost[127.0.0.1]' "$OUT/maillog.verify" \
  || fail "real Postfix at level verify did not verify the CA-signed server (log: $OUT/maillog.verify)"
grep -qE 'to=<user@good\.relay\.test>.* status=sent' "$OUT/maillog.verify" \
  || fail "real Postfix at level verify did not deliver to the CA-signed server (log: $OUT/maillog.verify)"
grep -qE 'to=<user@bad\.relay\.test>.* status=deferred \(Server certificate not verified\)' "$OUT/maillog.verify" \
  || fail "real Postfix at level verify did not defer the self-signed server (log: $OUT/maillog.verify)"
say "real Postfix at level verify: delivered to localhost[127.0.0.1] (Verified), deferred 127.0.0.2 (Server certificate not verified)"
say "PASS: what-if's verdicts at level verify are what real Postfix does"
