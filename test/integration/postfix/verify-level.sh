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
# Usage: verify-level.sh WORKDIR BASE_PORT OUT CLI YEAR   (run.sh calls it after its own checks passed)
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

# run.sh stopped the instance and released the port lock: take it again, and make sure no run started since has
# taken our ports, before this instance listens on them again (else swaks would talk to that run's Postfix).
exec 9>/tmp/tlscensus-it-postfix.lock
flock -w 180 9 || die "waited 180 s for /tmp/tlscensus-it-postfix.lock"
for p in "$OPEN" $((BASE_PORT + 1)) "$RELAY" $((BASE_PORT + 3)); do
  node -e '
    const s = require("node:net").createServer();
    s.once("error", () => process.exit(1));
    s.listen({ host: "127.0.0.1", port: Number(process.argv[1]), exclusive: true }, () => s.close(() => process.exit(0)));
  ' "$p" || die "127.0.0.1:$p was taken by another run since"
done

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

# Sends one message to each server through the relay listener and waits for both delivery results (or 20 s).
deliver_both() {
  local from=$1 d
  for d in good bad; do
    swaks --server 127.0.0.1 --port "$RELAY" --from sender@test.local --to "user@$d.relay.test" \
      --helo verify.client.test --header "Subject: level check, $d" >/dev/null \
      || fail "the relay listener did not accept the message to $d.relay.test (swaks)"
  done
  for _ in $(seq 1 100); do
    [[ $(tail -n +"$from" "$MAILLOG" | grep -cE 'to=<user@(good|bad)\.relay\.test>.* status=(sent|deferred|bounced)') -ge 2 ]] && return 0
    sleep 0.2
  done
  fail "no delivery result for both messages within 20 s (log: $MAILLOG)"
}

bash "$HERE/postfix-instance.sh" restart "$WORKDIR" "$BASE_PORT"
exec 9>&-   # our ports are in use again
start=$(($(wc -l < "$MAILLOG") + 1))
deliver_both "$start"
bash "$HERE/postfix-instance.sh" stop "$WORKDIR"
tail -n +"$start" "$MAILLOG" > "$OUT/maillog.may"
grep -qF 'Trusted TLS connection established to localhost[127.0.0.1]' "$OUT/maillog.may" \
  || fail "at level may the CA-signed server was not logged Trusted (log: $OUT/maillog.may)"
grep -qF 'Untrusted TLS connection established to 127.0.0.2[127.0.0.2]' "$OUT/maillog.may" \
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

# ---- 3. what real Postfix does at level verify
postconf -c "$CONF" -e 'smtp_tls_security_level = verify'
exec 9>/tmp/tlscensus-it-postfix.lock
flock -w 180 9 || die "waited 180 s for /tmp/tlscensus-it-postfix.lock"
bash "$HERE/postfix-instance.sh" restart "$WORKDIR" "$BASE_PORT"
exec 9>&-
start=$(($(wc -l < "$MAILLOG") + 1))
deliver_both "$start"
postsuper -c "$CONF" -d ALL >/dev/null 2>&1 || true
bash "$HERE/postfix-instance.sh" stop "$WORKDIR"
tail -n +"$start" "$MAILLOG" > "$OUT/maillog.verify"
grep -qF 'Verified TLS connection established to localhost[127.0.0.1]' "$OUT/maillog.verify" \
  || fail "real Postfix at level verify did not verify the CA-signed server (log: $OUT/maillog.verify)"
grep -qE 'to=<user@good\.relay\.test>.* status=sent' "$OUT/maillog.verify" \
  || fail "real Postfix at level verify did not deliver to the CA-signed server (log: $OUT/maillog.verify)"
grep -qE 'to=<user@bad\.relay\.test>.* status=deferred \(Server certificate not verified\)' "$OUT/maillog.verify" \
  || fail "real Postfix at level verify did not defer the self-signed server (log: $OUT/maillog.verify)"
say "real Postfix at level verify: delivered to localhost[127.0.0.1] (Verified), deferred 127.0.0.2 (Server certificate not verified)"
say "PASS: what-if's verdicts at level verify are what real Postfix does"
