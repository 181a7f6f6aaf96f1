#!/usr/bin/env bash
# test/integration/opensmtpd/run.sh -- tlscensus against a REAL OpenSMTPD 6.8.0p2 (Debian 12), end to end.
#
#   1. unpacks Debian's opensmtpd .deb (it conflicts with postfix, so it is never installed) and starts a private
#      smtpd under WORKDIR on 127.0.0.1, logging through a private rsyslogd on /dev/log (OpenSMTPD logs only via
#      syslog(3)) to mail.log (RFC 3339, Debian 12's default) and mail.log.traditional (`Mmm dd hh:mm:ss`),
#   2. starts smtp-sink.mjs as the relay target (TLS 1.3, TLS 1.2, a STARTTLS that breaks, no STARTTLS),
#   3. drives inbound sessions of known outcome and relays that make smtpd connect out (lib/realmta.sh drivers),
#      writes truth.json, stops everything and keeps OUT/mail.log, OUT/mail.log.traditional, OUT/truth.json,
#   4. runs `node dist/src/cli/main.js report --format json --mta opensmtpd …` on both logs (and with --mta auto)
#      and compares with the truth (lib/check-census.mjs; the sink's own record cross-checks outbound TLS).
# Debian 12's OpenSMTPD cannot complete an inbound TLS handshake (OpenSSL 3 vs its privsep key engine, upstream
# issues #1171/#1239): its inbound side is tested on failures and plaintext, its outbound side on TLS.
# Adapted from ../shared/realmta/opensmtpd-corpus.sh (realmta README §3, §8, §9).
#
# Usage: run.sh [--drive-only] [--out DIR]
# Environment: TLSCENSUS_IT_PORT (first port, default 2725: +0 STARTTLS listener, +2 smtps, +10..+13 relay target;
#   the next block of 20 is tried when busy), TLSCENSUS_IT_WORKDIR (default /tmp/tlscensus-it-opensmtpd, wiped).
# Needs: root, no syslog daemon on /dev/log (it would own the socket; never run beside the Sendmail suite), the
#   packages in apt-packages (installed through ../lib/apt-install.sh when missing), the Debian mirror for
#   `apt-get download opensmtpd`, node >= 20, a built tlscensus (npm run build). Takes about 60 s.
# Exit status: 0 pass, 1 a check failed, 2 setup error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT="$ROOT/artifacts/integration/opensmtpd"
WORKDIR=${TLSCENSUS_IT_WORKDIR:-/tmp/tlscensus-it-opensmtpd}
FIRST_PORT=${TLSCENSUS_IT_PORT:-2725}
DRIVE_ONLY=0
while (($#)); do
  case "$1" in
    --drive-only) DRIVE_ONLY=1 ;;
    --out) OUT=$(realpath -m "$2"); shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
case "$WORKDIR" in /tmp/?*) ;; *) echo "run.sh: WORKDIR must be under /tmp (it is wiped)" >&2; exit 2 ;; esac

MTA=opensmtpd
MAINLOG="$WORKDIR/log/mail.log"
LISTENERS="open smtps"
BASE_PORT=$FIRST_PORT
port_of() {
  case "$1" in
    open) echo "$BASE_PORT" ;; smtps) echo $((BASE_PORT + 2)) ;;
    sink13) echo $((BASE_PORT + 10)) ;; sink12) echo $((BASE_PORT + 11)) ;;
    sinkbroken) echo $((BASE_PORT + 12)) ;; sinkplain) echo $((BASE_PORT + 13)) ;; *) exit 2 ;;
  esac
}
# shellcheck source=../lib/realmta.sh
source "$HERE/../lib/realmta.sh"
T0=$SECONDS
SPOOL=/var/spool/smtpd   # compiled in, like /run/smtpd.sock: only one smtpd at a time

[[ $(id -u) == 0 ]] || die "must run as root (starts smtpd and rsyslogd, binds /dev/log)"
[[ -e /dev/log ]] && die "/dev/log exists: a syslog daemon owns it (OpenSMTPD logs only there); stop it first"
if pgrep -x smtpd >/dev/null 2>&1; then die "an smtpd is already running (its spool $SPOOL is fixed)"; fi
mapfile -t PKGS < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$HERE/apt-packages" | grep -v '^$')
bash "$HERE/../lib/apt-install.sh" "${PKGS[@]}" || die "could not install ${PKGS[*]}"
for c in rsyslogd swaks openssl perl node dpkg-deb; do command -v "$c" >/dev/null || die "'$c' not found"; done

# ------------------------------------------------------------------ smtpd from the .deb ----
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
OS_ROOT=""
if pkg_installed opensmtpd; then
  SMTPD=/usr/sbin/smtpd
else
  OS_ROOT=/tmp/tlscensus-it-opensmtpd-root
  SMTPD="$OS_ROOT/usr/sbin/smtpd"
  if [[ ! -x "$SMTPD" ]]; then
    log "unpacking Debian's opensmtpd .deb into $OS_ROOT (not installing it: it conflicts with postfix)"
    rm -rf "$OS_ROOT" "$OS_ROOT.debs"; mkdir -p "$OS_ROOT.debs" "$OS_ROOT"; chmod 755 "$OS_ROOT.debs"
    if ! (cd "$OS_ROOT.debs" && apt-get -q download opensmtpd >/dev/null 2>&1); then
      apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null
      (cd "$OS_ROOT.debs" && apt-get -q download opensmtpd >/dev/null) || die "apt-get download opensmtpd failed"
    fi
    dpkg-deb -x "$OS_ROOT.debs"/opensmtpd_*.deb "$OS_ROOT"
  fi
fi
"$SMTPD" -h 2>&1 | head -1 >/dev/null || true

# users the package's postinst would create; their home is smtpd's chroot
mkdir -p /var/lib/opensmtpd/empty
for n in opensmtpd opensmtpq; do
  id "$n" >/dev/null 2>&1 && continue
  getent group "$n" >/dev/null || groupadd --system "$n"
  useradd --system --home-dir /var/lib/opensmtpd/empty --no-create-home --shell /usr/sbin/nologin -g "$n" "$n"
done

# ------------------------------------------------------------------ cleanup ----
SMTPD_PID=""; RSYSLOG_PID=""; SINK_PID=""; MADE_LINK=0
cleanup() {
  local rc=$?
  set +e
  if [[ -n "$SMTPD_PID" ]]; then kill "$SMTPD_PID" 2>/dev/null; wait "$SMTPD_PID" 2>/dev/null; fi
  sleep 0.5   # let the last lines reach rsyslogd
  if [[ -n "$RSYSLOG_PID" ]]; then kill "$RSYSLOG_PID" 2>/dev/null; wait "$RSYSLOG_PID" 2>/dev/null; fi
  if [[ -n "$SINK_PID" ]]; then kill "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null; fi
  # a stale link would make a later `apt-get install opensmtpd` unpack into /tmp (realmta README §3)
  if ((MADE_LINK)) && [[ -L /usr/libexec/opensmtpd ]]; then rm -f /usr/libexec/opensmtpd; fi
  [[ -S /dev/log && -n "$RSYSLOG_PID" ]] && rm -f /dev/log
  SMTPD_PID=""; RSYSLOG_PID=""; SINK_PID=""; MADE_LINK=0
  return "$rc"
}
trap 'cleanup; exit' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# delivery helpers (mail.mda, mail.local, ...) are looked up in the compiled-in /usr/libexec/opensmtpd
if [[ -n "$OS_ROOT" && ! -e /usr/libexec/opensmtpd ]]; then
  ln -s "$OS_ROOT/usr/libexec/opensmtpd" /usr/libexec/opensmtpd
  MADE_LINK=1
fi

# ------------------------------------------------------------------ instance ----
block_free() { local p; for p in open smtps sink13 sink12 sinkbroken sinkplain; do port_free "$(port_of "$p")" || return 1; done; }
for ((BASE_PORT = FIRST_PORT; BASE_PORT < FIRST_PORT + 200; BASE_PORT += 20)); do
  block_free && break
  log "ports $BASE_PORT-$((BASE_PORT + 13)) busy, trying $((BASE_PORT + 20))"
done
block_free || die "no free port block in 127.0.0.1:$FIRST_PORT-$((FIRST_PORT + 199))"

rm -rf "$WORKDIR"; mkdir -p "$WORKDIR"/{log,tls,client,rsyslog}; chmod 755 "$WORKDIR"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=mx.test.local \
  -keyout "$WORKDIR/tls/key.pem" -out "$WORKDIR/tls/cert.pem" 2>/dev/null
chmod 600 "$WORKDIR/tls/key.pem"

cat > "$WORKDIR/rsyslog.conf" <<CONF
global(localHostname="mx" workDirectory="$WORKDIR/rsyslog")
module(load="imuxsock" SysSock.Name="/dev/log")
# Debian 12's default file format (RFC 3339, high precision) ...
mail.*  action(type="omfile" file="$WORKDIR/log/mail.log")
# ... and the traditional one ("Nov 27 18:39:45")
mail.*  action(type="omfile" file="$WORKDIR/log/mail.log.traditional" template="RSYSLOG_TraditionalFileFormat")
CONF
rsyslogd -n -f "$WORKDIR/rsyslog.conf" -i "$WORKDIR/rsyslog.pid" &
RSYSLOG_PID=$!
for i in $(seq 1 50); do [[ -S /dev/log ]] && break; sleep 0.1; done
[[ -S /dev/log ]] || die "rsyslogd did not create /dev/log"

node "$HERE/smtp-sink.mjs" --cert "$WORKDIR/tls/cert.pem" --key "$WORKDIR/tls/key.pem" --record "$WORKDIR/sink.jsonl" \
  "tls13=$(port_of sink13)" "tls12=$(port_of sink12)" "broken=$(port_of sinkbroken)" "plain=$(port_of sinkplain)" &
SINK_PID=$!
: > "$WORKDIR/sink.jsonl"
for p in sink13 sink12 sinkbroken sinkplain; do wait_port "$(port_of "$p")" || die "smtp-sink does not listen on $(port_of "$p")"; done

cat > "$WORKDIR/smtpd.conf" <<CONF
pki mx.test.local cert "$WORKDIR/tls/cert.pem"
pki mx.test.local key "$WORKDIR/tls/key.pem"
listen on 127.0.0.1 port $(port_of open) tls pki mx.test.local hostname mx.test.local
listen on 127.0.0.1 port $(port_of smtps) smtps pki mx.test.local hostname mx.test.local
action "sink" mda "/bin/cat" virtual { "@" = opensmtpd }
# STARTTLS required (logged as smtp+tls://), certificate not checked
action "relay_tls13" relay host smtp://127.0.0.1:$(port_of sink13) tls no-verify
action "relay_tls12" relay host smtp://127.0.0.1:$(port_of sink12) tls no-verify
# opportunistic (smtp://): the target's STARTTLS breaks, smtpd downgrades and reconnects with smtp+notls://
action "relay_broken" relay host smtp://127.0.0.1:$(port_of sinkbroken)
# opportunistic, but the target offers no STARTTLS
action "relay_nooffer" relay host smtp://127.0.0.1:$(port_of sinkplain)
# TLS disabled
action "relay_notls" relay host smtp+notls://127.0.0.1:$(port_of sinkplain)
match from any for domain "test.local" action "sink"
match from any for domain "tls13.relay.test" action "relay_tls13"
match from any for domain "tls12.relay.test" action "relay_tls12"
match from any for domain "broken.relay.test" action "relay_broken"
match from any for domain "nooffer.relay.test" action "relay_nooffer"
match from any for domain "notls.relay.test" action "relay_notls"
CONF
"$SMTPD" -n -f "$WORKDIR/smtpd.conf" >/dev/null 2>&1 || { "$SMTPD" -n -f "$WORKDIR/smtpd.conf"; die "smtpd -n rejected the config"; }
log "starting: $SMTPD -F -f $WORKDIR/smtpd.conf (ports $(port_of open), $(port_of smtps); logs via syslog)"
"$SMTPD" -F -f "$WORKDIR/smtpd.conf" &
SMTPD_PID=$!
wait_port "$(port_of smtps)" || die "smtpd does not listen on $(port_of smtps)"

queue_busy() { [[ -n "$(find "$SPOOL/queue" "$SPOOL/incoming" -type f 2>/dev/null)" ]]; }

# ------------------------------------------------------------------ sessions ----
: > "$RECORDS"
# Inbound TLS cannot succeed here: every handshake is a failure (o01-o04 break on smtpd's side).
session o01 in:tls_failed          sclient open -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
session o02 in:tls_failed          swaks   open --tls --tls-protocol tlsv1_2 --tls-cipher ECDHE-RSA-AES256-GCM-SHA384
session o03 in:tls_failed          sclient open -tls1_2 -cipher AES128-SHA
session o04 in:tls_failed          sclient_smtps smtps
session o05 in:plaintext           swaks   open
session o06 in:starttls_abandoned  raw_drop open
session o07 in:tls_failed          raw_garbage open
# plaintext from another loopback address (no reverse name: host=<unknown>)
session o08 in:plaintext           swaks   open --local-interface 127.0.0.5
# Outbound: each relay is one plaintext submission in, then smtpd's own connection(s) out.
session r01 in:plaintext,out:tls:TLSv1.3:TLS_AES_256_GCM_SHA384        relay open tls13.relay.test
session r02 in:plaintext,out:tls:TLSv1.2:ECDHE-RSA-AES256-GCM-SHA384   relay open tls12.relay.test
session r03 in:plaintext,out:tls_failed,out:plaintext                  relay open broken.relay.test
session r04 in:plaintext,out:plaintext                                 relay open nooffer.relay.test
session r05 in:plaintext,out:plaintext                                 relay open notls.relay.test

# ---------------------------------------------------- reference parse ----
# A self-check of the driver (did each session do what its plan says?), in OpenSMTPD's own wording; per session id.
CLASSIFIER='
  if (/ (\w+) smtp tls ciphers=([^:\s]+):([^:\s]+):\d+/)          { IN("tls:$2:$3"); $S{"tls$1"} = 1 }
  elsif (/ (\w+) smtp disconnected reason="io-error: .*unexpected eof while reading"/) { IN("starttls_abandoned") }
  elsif (/ (\w+) smtp disconnected reason="io-error: /)            { IN("tls_failed") }
  elsif (/ (\w+) smtp connected address=local /)                  { $S{"local$1"} = 1 }
  elsif (/ (\w+) smtp disconnected reason=(quit|disconnect)/)      { IN("plaintext") if !$S{"tls$1"} && !$S{"local$1"} }
  elsif (/ (\w+) mta connected/)                                   { $S{"mta$1"} = "plaintext" }
  elsif (/ (\w+) mta tls ciphers=([^:\s]+):([^:\s]+):\d+/)         { OUT("tls:$2:$3"); $S{"mta$1"} = "tls" }
  elsif (/smtp-out: Error on session (\w+): opportunistic TLS failed/) { OUT("tls_failed"); $S{"mta$1"} = "failed" }
  elsif (/ (\w+) mta error reason=.*(?:TLS|SSL|handshake)/i)      { OUT("tls_failed"); $S{"mta$1"} = "failed" }
  if ($_ eq "__END_OF_SESSION__") { for (grep { /^mta/ } keys %S) { OUT("plaintext") if $S{$_} eq "plaintext" } }
'
log "ran $N_SESSIONS sessions; stopping smtpd and checking them"
cleanup
drive_rc=0
EXTRA_TRUTH='{"log_file":"mail.log","also":"mail.log.traditional (same events, traditional syslog timestamps)","opensmtpd_version":"'"$(basename "$(ls "${OS_ROOT:-/nonexistent}.debs"/opensmtpd_*.deb 2>/dev/null || echo installed)")"' (Debian 12, OpenSSL 3): inbound TLS broken","relay_target":"smtp-sink.mjs (sink.jsonl records what it negotiated)"}' \
  write_truth > "$WORKDIR/truth.json" || drive_rc=$?
mkdir -p "$OUT"
cp "$WORKDIR/truth.json" "$WORKDIR/log/mail.log" "$WORKDIR/log/mail.log.traditional" "$WORKDIR/sink.jsonl" "$OUT/"
chmod a+r "$OUT"/* 2>/dev/null || true
log "logs: $OUT/mail.log ($(wc -l < "$OUT/mail.log") lines) and mail.log.traditional; truth: $OUT/truth.json"
if ((drive_rc != 0)); then
  log "FAIL: the OpenSMTPD sessions did not all behave as planned (see the FAIL lines above)"
  exit 1
fi
log "OpenSMTPD part OK in $((SECONDS - T0)) s"
((DRIVE_ONLY)) && { log "--drive-only: not running tlscensus"; exit 0; }

# ------------------------------------------------------------------ tlscensus ----
CLI="$ROOT/dist/src/cli/main.js"
[[ -f "$CLI" ]] || { log "FAIL: $CLI does not exist (run 'npm run build' first)"; exit 1; }
rc=0
for f in mail.log mail.log.traditional; do
  node "$HERE/../lib/check-census.mjs" --truth "$OUT/truth.json" --log "$OUT/$f" --cli "$CLI" --mta opensmtpd \
    --sink "$OUT/sink.jsonl" --report-out "$OUT/report-$f.json" || rc=1
done
if ((rc == 0)); then
  log "PASS: tlscensus report equals the truth for both logs ($((SECONDS - T0)) s)"
else
  log "FAIL: tlscensus report differs from the truth (see above; reports: $OUT/report-*.json)"
  exit 1
fi
