#!/usr/bin/env bash
# test/integration/postfix/master-cf.sh -- what-if with master.cf against what real Postfix does.
#
# The instance run.sh built has four smtpd listeners with their own -o settings in master.cf (postfix-instance.sh):
# open (postfix/smtpd), strict (postfix/strict/smtpd, -o smtpd_tls_protocols=>=TLSv1.2), relayin (no TLS) and smtps
# (wrapper mode). drive.mjs's client 127.0.0.3 sent TLSv1.2 to both open and strict. Then:
#   1. `tlscensus whatif --main-cf CONF/main.cf` (reading the master.cf beside it, as by default) judges the
#      configuration that wrote the log against that log: no inbound peer may be affected, and the policy must show
#      the four services with the settings Postfix gave them (strict from TLSv1.2, smtps requiring TLS);
#   2. a copy of the configuration with strict raised to >=TLSv1.3 by the real `postconf -P`: 127.0.0.3 must lose
#      TLS, on strict/smtpd only, and main.cf alone (--no-master-cf) must see no change;
#   3. the same change made to the running instance (postconf -P, postfix reload): a TLSv1.2 client from 127.0.0.3
#      must really fail its handshake on the strict listener and still complete one on the open listener.
#
# Usage: master-cf.sh WORKDIR BASE_PORT OUT CLI YEAR   (run.sh calls it after its count checks, with the instance
#        stopped and the port lock /tmp/tlscensus-it-postfix.lock held on its fd 9 -- kept held here: the instance is
#        started for step 3 and stopped again, and verify-level.sh then starts it once more and releases the lock)
# Exit status: 0 pass, 1 a check failed, 2 setup error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORKDIR=$1 BASE_PORT=$2 OUT=$3 CLI=$4 YEAR=$5
CONF="$WORKDIR/etc"
MAILLOG="$WORKDIR/log/maillog"
OPEN=$BASE_PORT
STRICT=$((BASE_PORT + 1))
CLIENT=127.0.0.3
say() { printf '[postfix-it master.cf] %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
die() { say "ERROR: $*"; exit 2; }
command -v swaks >/dev/null || die "'swaks' not found; install the packages in $HERE/apt-packages"
[[ -f "$CONF/master.cf" && -f "$OUT/maillog" ]] || die "no instance configuration or drive log (run run.sh)"

# inbound JSON of `whatif --direction in ARGS…` on the drive's log, into FILE; prints `ip verdict` per peer.
whatif() {
  local file=$1
  shift
  node "$CLI" whatif --format json --direction in --year "$YEAR" --timezone local "$@" "$OUT/maillog" > "$file" \
    || fail "tlscensus whatif $* failed"
  node -e '
    const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    for (const p of r.peers) console.log(`${p.peer.ip} ${p.verdict}`);
  ' "$file" | sort -u
}

# ---- 1. the configuration that wrote the log, judged against it
got=$(whatif "$OUT/whatif-current.json" --main-cf "$CONF/main.cf")
affected=$(grep -v ' unaffected$' <<< "$got" || true)
[[ -z "$affected" ]] || fail "the configuration that wrote the log affects peers of its own log: [$affected] ($OUT/whatif-current.json)"
node -e '
  const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  const services = Object.fromEntries(r.policy.inbound.services.map((s) => [s.service, s.policies[0]]));
  const want = {
    smtpd: [false, "TLSv1,TLSv1.1,TLSv1.2,TLSv1.3"],
    "strict/smtpd": [false, "TLSv1.2,TLSv1.3"],
    "relayin/smtpd": [false, ""],
    "smtps/smtpd": [true, "TLSv1,TLSv1.1,TLSv1.2,TLSv1.3"],
  };
  for (const [service, [mandatory, protocols]] of Object.entries(want)) {
    const p = services[service];
    if (!p) throw new Error(`no policy for ${service} in ${Object.keys(services)}`);
    const got = (p.allMandatory ? p.mandatory : p.opportunistic).protocols.join(",");
    if (p.allMandatory !== mandatory || got !== protocols)
      throw new Error(`${service}: TLS required ${p.allMandatory}, protocols [${got}]; want ${mandatory}, [${protocols}]`);
  }
' "$OUT/whatif-current.json" || fail "the policy read from the instance's master.cf is not what Postfix runs ($OUT/whatif-current.json)"
say "whatif: the instance's own main.cf + master.cf affect no inbound peer of its log; its 4 smtpd services read as configured"

# ---- 2. the proposal: strict from TLSv1.3 on, written by the real postconf into a copy of the configuration
PROPOSED="$OUT/proposed-etc"
rm -rf "$PROPOSED"
mkdir -p "$PROPOSED"
cp "$CONF/main.cf" "$CONF/master.cf" "$PROPOSED/"
postconf -c "$PROPOSED" -P "127.0.0.1:$STRICT/inet/smtpd_tls_protocols=>=TLSv1.3" \
  || die "postconf -P could not edit the copy of master.cf"
got=$(whatif "$OUT/whatif-proposed.json" --main-cf "$PROPOSED/main.cf")
[[ $(grep "^$CLIENT " <<< "$got") == "$CLIENT loses-tls" ]] \
  || fail "with strict at >=TLSv1.3, $CLIENT should lose TLS: got [$got] ($OUT/whatif-proposed.json)"
others=$(grep -v "^$CLIENT " <<< "$got" | grep -v ' unaffected$' || true)
[[ -z "$others" ]] || fail "with strict at >=TLSv1.3, only $CLIENT should be affected: [$others]"
node -e '
  const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  const p = r.peers.find((x) => x.peer.ip === process.argv[2]);
  const blocked = p.handshakes.filter((h) => h.outcome === "blocked").map((h) => h.service);
  const kept = p.handshakes.filter((h) => h.outcome === "kept").map((h) => h.service);
  if (!p.reason.startsWith("on strict/smtpd ") || blocked.some((s) => s !== "strict/smtpd") || !kept.includes("smtpd"))
    throw new Error(`blocked on [${blocked}], kept on [${kept}]: ${p.reason}`);
' "$OUT/whatif-proposed.json" "$CLIENT" || fail "the verdict of $CLIENT does not come from strict/smtpd alone"
got=$(whatif "$OUT/whatif-proposed-main-only.json" --main-cf "$PROPOSED/main.cf" --no-master-cf)
[[ $(grep "^$CLIENT " <<< "$got") == "$CLIENT unaffected" ]] \
  || fail "main.cf alone (--no-master-cf) should see no change for $CLIENT: got [$got]"
say "whatif predicts: with strict at >=TLSv1.3, $CLIENT loses TLS on strict/smtpd and keeps it on smtpd"

# ---- 3. the same change on the running instance, and a TLSv1.2 client on both listeners
postconf -c "$CONF" -P "127.0.0.1:$STRICT/inet/smtpd_tls_protocols=>=TLSv1.3" || die "postconf -P failed"
bash "$HERE/postfix-instance.sh" restart "$WORKDIR" "$BASE_PORT" 9>&-   # the daemons must not inherit the lock
from=$(($(wc -l < "$MAILLOG") + 1))
# swaks exits non-zero when TLS fails (--tls: required); its transcript is kept for a failure's diagnosis.
try_tls12() {
  swaks --server 127.0.0.1 --port "$1" --local-interface "$CLIENT" --tls --tls-protocol tlsv1_2 \
    --quit-after TLS --helo tls12.client.test > "$OUT/swaks-$1.txt" 2>&1
}
try_tls12 "$STRICT" && fail "a TLSv1.2 client completed a handshake on strict at >=TLSv1.3 ($OUT/swaks-$STRICT.txt)"
try_tls12 "$OPEN" || fail "a TLSv1.2 client failed on the open listener ($OUT/swaks-$OPEN.txt)"
for _ in $(seq 1 50); do
  tail -n +"$from" "$MAILLOG" | grep -q "postfix/smtpd\[[0-9]*\]: disconnect from .*\[$CLIENT\]" && break
  sleep 0.2
done
tail -n +"$from" "$MAILLOG" > "$OUT/maillog.master-cf"
bash "$HERE/postfix-instance.sh" stop "$WORKDIR"
# (verify-level.sh goes on with the instance as postfix-instance.sh built it.)
postconf -c "$CONF" -P "127.0.0.1:$STRICT/inet/smtpd_tls_protocols=>=TLSv1.2" || die "postconf -P failed"
grep -qE "postfix/strict/smtpd\[[0-9]+\]: SSL_accept error from [^ ]*\[$CLIENT\]" "$OUT/maillog.master-cf" \
  || fail "real Postfix did not log the failed handshake on strict ($OUT/maillog.master-cf)"
grep -qE "postfix/smtpd\[[0-9]+\]: .*TLS connection established from [^ ]*\[$CLIENT\]: TLSv1\.2 with cipher" \
  "$OUT/maillog.master-cf" || fail "real Postfix did not log TLSv1.2 on the open listener ($OUT/maillog.master-cf)"
say "real Postfix with strict at >=TLSv1.3: TLSv1.2 from $CLIENT refused on strict, established on open"
say "PASS: what-if's per-service verdicts from master.cf are what real Postfix does"
