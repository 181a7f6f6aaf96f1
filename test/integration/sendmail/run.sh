#!/usr/bin/env bash
# test/integration/sendmail/run.sh -- tlscensus against a REAL Sendmail 8.17.1.9 (Debian 12, OpenSSL 3), end to end.
#
#   1. unpacks sendmail-bin, sendmail-base and sendmail-cf (apt-get download + dpkg-deb -x: sendmail conflicts
#      with the installed postfix, so it is never apt-installed), builds a private sendmail.cf with m4
#      (LogLevel 9) and a submit.cf for the MSP, starts a private rsyslogd on /dev/log (sendmail logs only
#      through syslog) writing RFC 3339 (mail.log, Debian 12's default) and traditional (mail.log.traditional)
#      files, a Node SMTP sink for outbound deliveries (smtp-sink.mjs), and the daemon (`sm-mta` tag),
#   2. drives sessions of known outcome (lib/realmta.sh): TLSv1.2/1.3 with chosen suites, implicit TLS, two
#      messages on one connection, handshake failures (TLSv1/1.1 impossible at OpenSSL 3's security level,
#      suite mismatch, garbage, STARTTLS then silence), plaintext with and without mail, outbound TLS and
#      plaintext, and a local submission through the MSP (its loopback STARTTLS pair: one out, one in);
#      each session's client output and log lines are checked as it runs,
#   3. stops everything and keeps OUT/mail.log, OUT/mail.log.traditional and OUT/truth.json,
#   4. runs `node dist/src/cli/main.js report --format json --mta sendmail [--year Y] LOG` on both files and
#      compares the census with the truth (check.mjs; writes OUT/report*.json), printing a diff and exiting 1
#      on any mismatch.
#
# Adapted from ../shared/realmta/sendmail-corpus.sh (which made test/fixtures/corpus/sendmail/); nothing outside
# this repository is read at run time. Needs /dev/log for itself: never run it beside another suite that starts
# a syslog daemon (OpenSMTPD); it waits up to 2 minutes for /dev/log to go away, then gives up.
#
# Usage: run.sh [--drive-only] [--out DIR]
# Environment: TLSCENSUS_IT_PORT (first base port tried, default 2945; 4 consecutive ports), TLSCENSUS_IT_WORKDIR
#   (default /tmp/tlscensus-it-sendmail, wiped), TLSCENSUS_IT_SENDMAIL_ROOT (unpacked .debs, default
#   /tmp/tlscensus-it-sendmail-root, reused when present).
# Needs: root, the packages in apt-packages (installed through ../lib/apt-install.sh when missing), node >= 20,
#   a built tlscensus (npm run build). Exit status: 0 pass, 1 a check failed, 2 setup error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT="$ROOT/artifacts/integration/sendmail"
DRIVE_ONLY=0
while (($#)); do
  case "$1" in
    --drive-only) DRIVE_ONLY=1 ;;
    --out) OUT=$(realpath -m "$2"); shift ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

MTA=sendmail
WORKDIR=${TLSCENSUS_IT_WORKDIR:-/tmp/tlscensus-it-sendmail}
SM_ROOT=${TLSCENSUS_IT_SENDMAIL_ROOT:-/tmp/tlscensus-it-sendmail-root}
FIRST_PORT=${TLSCENSUS_IT_PORT:-2945}
MAINLOG="$WORKDIR/log/mail.log"
LISTENERS="open smtps"
T0=$SECONDS
# shellcheck source=../lib/realmta.sh
source "$HERE/../lib/realmta.sh"
[[ $(id -u) == 0 ]] || die "must run as root (unpacks and starts sendmail and rsyslogd)"

# ------------------------------------------------------------------ packages ----
mapfile -t PKGS < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$HERE/apt-packages" | grep -v '^$')
bash "$HERE/../lib/apt-install.sh" "${PKGS[@]}" || die "could not install: ${PKGS[*]}"
for c in swaks openssl perl ss node m4 rsyslogd unshare; do command -v "$c" >/dev/null || die "'$c' not found"; done

SM_BIN="$SM_ROOT/usr/libexec/sendmail"
CF_M4="$SM_ROOT/usr/share/sendmail/cf/m4/cf.m4"
if [[ ! -x "$SM_BIN/sendmail" || ! -f "$CF_M4" ]]; then
  log "unpacking sendmail .debs into $SM_ROOT (not installed: sendmail-bin conflicts with postfix)"
  rm -rf "$SM_ROOT.debs" "$SM_ROOT"; mkdir -p "$SM_ROOT.debs" "$SM_ROOT"
  chmod 755 "$SM_ROOT.debs"; chown _apt "$SM_ROOT.debs" 2>/dev/null || true
  (cd "$SM_ROOT.debs" && apt-get -q -o Acquire::Retries=3 download sendmail-bin sendmail-base sendmail-cf >/dev/null) ||
    die "apt-get download sendmail-bin sendmail-base sendmail-cf failed"
  for d in "$SM_ROOT.debs"/*.deb; do dpkg-deb -x "$d" "$SM_ROOT"; done
fi
ldd "$SM_BIN/sendmail" | grep -q 'not found' && die "$SM_BIN/sendmail misses libraries (see apt-packages)"

# ------------------------------------------------------------------ /dev/log ----
# sendmail logs only through syslog(3): this suite runs its own rsyslogd on /dev/log. Another one there (the
# OpenSMTPD suite, or a system syslog) would take our lines: wait for it to go, or give up.
for i in $(seq 1 120); do [[ -e /dev/log ]] || break; ((i == 1)) && log "/dev/log exists (another syslog daemon?): waiting up to 120 s"; sleep 1; done
[[ -e /dev/log ]] && die "/dev/log still exists: stop the syslog daemon that owns it (or run this suite alone)"

# ------------------------------------------------------------------ instance ----
RSYSLOG_PID=""; SINK_PID=""; PIDFILE="$WORKDIR/sendmail.pid"
stop_all() {
  local pid i
  if [[ -r "$PIDFILE" ]]; then
    pid=$(head -1 "$PIDFILE")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"; for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$PIDFILE"
  fi
  if [[ -n "$SINK_PID" ]]; then kill "$SINK_PID" 2>/dev/null || true; wait "$SINK_PID" 2>/dev/null || true; SINK_PID=""; fi
  sleep 0.5  # let rsyslogd write what sendmail said last
  if [[ -n "$RSYSLOG_PID" ]]; then kill "$RSYSLOG_PID" 2>/dev/null || true; wait "$RSYSLOG_PID" 2>/dev/null || true; RSYSLOG_PID=""; fi
}
cleanup() {
  local rc=$?
  set +e
  stop_all
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

BASE_PORT=""
for ((p = FIRST_PORT; p < FIRST_PORT + 100; p += 10)); do
  if port_free "$p" && port_free $((p + 1)) && port_free $((p + 2)) && port_free $((p + 3)); then BASE_PORT=$p; break; fi
  log "127.0.0.1:$p-$((p + 3)) busy, trying $((p + 10))"
done
[[ -n "$BASE_PORT" ]] || die "no 4 free ports in 127.0.0.1:$FIRST_PORT-$((FIRST_PORT + 99))"
port_of() { case "$1" in open) echo "$BASE_PORT" ;; smtps) echo $((BASE_PORT + 1)) ;; *) exit 2 ;; esac; }
P_OPEN=$(port_of open); P_SMTPS=$(port_of smtps); P_SINK_TLS=$((BASE_PORT + 2)); P_SINK_PLAIN=$((BASE_PORT + 3))

rm -rf "$WORKDIR"; mkdir -p "$WORKDIR"/{log,tls,client,rsyslog,mqueue,clientmqueue,bin}
chmod 755 "$WORKDIR"; chmod 700 "$WORKDIR/mqueue"; chown nobody:nogroup "$WORKDIR/clientmqueue"; chmod 770 "$WORKDIR/clientmqueue"
ln -s "$SM_BIN/sendmail" "$WORKDIR/bin/sm-mta"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=sm.test.local \
  -keyout "$WORKDIR/tls/key.pem" -out "$WORKDIR/tls/cert.pem" 2>/dev/null
chmod 600 "$WORKDIR/tls/key.pem"
openssl genpkey -genparam -algorithm DH -pkeyopt dh_param:ffdhe2048 -out "$WORKDIR/tls/dh.pem" 2>/dev/null

# every local recipient is aliased to /dev/null; *.relay.test goes out to the sink
printf 'user: /dev/null\npostmaster: /dev/null\nMAILER-DAEMON: /dev/null\nroot: /dev/null\n' > "$WORKDIR/aliases"
printf 'tls.relay.test\tesmtp:[127.0.0.1]\nnotls.relay.test\tsmtp:[127.0.0.1]\n' > "$WORKDIR/mailertable"
cat > "$WORKDIR/sendmail.mc" <<EOF
divert(-1)dnl
private throwaway sendmail for the tlscensus integration suite
divert(0)dnl
include(\`$CF_M4')dnl
VERSIONID(\`tlscensus')dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`sm.test.local')dnl
dnl STARTTLS= lines are logged at LogLevel 9 (docs/mta-exim-sendmail.md)
define(\`confLOG_LEVEL', \`9')dnl
define(\`QUEUE_DIR', \`$WORKDIR/mqueue')dnl
define(\`confPID_FILE', \`$PIDFILE')dnl
define(\`STATUS_FILE', \`$WORKDIR/sendmail.st')dnl
define(\`ALIAS_FILE', \`$WORKDIR/aliases')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confTO_IDENT', \`0')dnl
define(\`confSERVER_CERT', \`$WORKDIR/tls/cert.pem')dnl
define(\`confSERVER_KEY', \`$WORKDIR/tls/key.pem')dnl
define(\`confCACERT', \`$WORKDIR/tls/cert.pem')dnl
define(\`confCACERT_PATH', \`/etc/ssl/certs')dnl
define(\`confDH_PARAMETERS', \`$WORKDIR/tls/dh.pem')dnl
dnl esmtp deliveries go to the sink's STARTTLS port, smtp deliveries to its plaintext port
define(\`ESMTP_MAILER_ARGS', \`TCP \$h $P_SINK_TLS')dnl
define(\`SMTP_MAILER_ARGS', \`TCP \$h $P_SINK_PLAIN')dnl
DAEMON_OPTIONS(\`Family=inet, Addr=127.0.0.1, Port=$P_OPEN, Name=MTA')dnl
DAEMON_OPTIONS(\`Family=inet, Addr=127.0.0.1, Port=$P_SMTPS, Name=MTA-smtps, M=s')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`nouucp',\`reject')dnl
FEATURE(\`mailertable', \`hash -o $WORKDIR/mailertable')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
LOCAL_CONFIG
Cwtest.local
EOF
# The MSP (what /usr/sbin/sendmail runs for local submissions): relays to the daemon on 127.0.0.1, with STARTTLS
cat > "$WORKDIR/submit.mc" <<EOF
divert(-1)dnl
private MSP for the tlscensus integration suite
divert(0)dnl
include(\`$CF_M4')dnl
VERSIONID(\`tlscensus submit')dnl
define(\`confCF_VERSION', \`Submit')dnl
define(\`__OSTYPE__',\`')dnl
define(\`confDOMAIN_NAME', \`sm.test.local')dnl
define(\`confLOG_LEVEL', \`9')dnl
dnl the MSP refuses to run as root ("Mail submission program must have RunAsUser set to non root user")
define(\`confRUN_AS_USER', \`nobody:nogroup')dnl
define(\`MSP_QUEUE_DIR', \`$WORKDIR/clientmqueue')dnl
define(\`confPID_FILE', \`$WORKDIR/submit.pid')dnl
dnl feature/msp.m4 knows only port 25 or MSA (587): the daemon's port is set here
define(\`RELAY_MAILER_ARGS', \`TCP \$h $P_OPEN')dnl
define(\`STATUS_FILE', \`$WORKDIR/submit.st')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confCACERT', \`$WORKDIR/tls/cert.pem')dnl
define(\`confCACERT_PATH', \`/etc/ssl/certs')dnl
FEATURE(\`msp', \`[127.0.0.1]', \`$P_OPEN')dnl
EOF
# every sendmail command runs with a qualified hostname: with an unqualified one sendmail sleeps 60 s at startup
# ("My unqualified host name (vm) unknown; sleeping for retry"); unshare --uts leaves the system's name alone.
if unshare --uts true 2>/dev/null; then
  in_uts() { unshare --uts sh -c 'hostname sm.test.local && exec "$@"' sh "$@"; }
else
  log "warning: unshare --uts not permitted; sendmail may sleep 60 s qualifying the hostname"
  in_uts() { "$@"; }
fi
m4 "$WORKDIR/sendmail.mc" > "$WORKDIR/sendmail.cf"
m4 "$WORKDIR/submit.mc" > "$WORKDIR/submit.cf"
"$SM_BIN/makemap" -C "$WORKDIR/sendmail.cf" hash "$WORKDIR/mailertable" < "$WORKDIR/mailertable" 2>/dev/null
in_uts "$WORKDIR/bin/sm-mta" -C "$WORKDIR/sendmail.cf" -bi >/dev/null 2>&1

cat > "$WORKDIR/rsyslog.conf" <<EOF
global(localHostname="mx" workDirectory="$WORKDIR/rsyslog")
module(load="imuxsock" SysSock.Name="/dev/log")
mail.*  action(type="omfile" file="$WORKDIR/log/mail.log")
mail.*  action(type="omfile" file="$WORKDIR/log/mail.log.traditional" template="RSYSLOG_TraditionalFileFormat")
EOF
rsyslogd -n -f "$WORKDIR/rsyslog.conf" -i "$WORKDIR/rsyslog.pid" &
RSYSLOG_PID=$!
for i in $(seq 1 50); do [[ -S /dev/log ]] && break; sleep 0.1; done
[[ -S /dev/log ]] || die "rsyslogd did not create /dev/log"

node "$HERE/smtp-sink.mjs" --cert "$WORKDIR/tls/cert.pem" --key "$WORKDIR/tls/key.pem" \
  --tls-port "$P_SINK_TLS" --plain-port "$P_SINK_PLAIN" &
SINK_PID=$!

log "starting: sm-mta -L sm-mta -C $WORKDIR/sendmail.cf -bd -q30m (ports open=$P_OPEN smtps=$P_SMTPS; sink $P_SINK_TLS/$P_SINK_PLAIN)"
in_uts "$WORKDIR/bin/sm-mta" -L sm-mta -C "$WORKDIR/sendmail.cf" -bd -q30m
for i in $(seq 1 100); do ! port_free "$P_SMTPS" && ! port_free "$P_SINK_PLAIN" && break; sleep 0.1; done
port_free "$P_OPEN" && die "sendmail is not listening on $P_OPEN"

queue_busy() { [[ -n "$(find "$WORKDIR/mqueue" "$WORKDIR/clientmqueue" -type f -name 'qf*' 2>/dev/null)" ]]; }

drv_msp() {  # id listener: a local submission through the MSP (sendmail -C submit.cf), relayed to the daemon
  local id=$1
  CMD="sendmail -C submit.cf -f $id@client.test user@test.local (MSP -> [127.0.0.1]:$P_OPEN)"
  printf 'Subject: tlscensus %s\nMessage-Id: <%s@client.test>\n\nsession %s\n' "$id" "$id" "$id" |
    in_uts "$SM_BIN/sendmail" -C "$WORKDIR/submit.cf" -f "$id@client.test" user@test.local
}

# ------------------------------------------------------------------ sessions ----
: > "$RECORDS"
session m01 in:tls:TLSv1.3:TLS_AES_256_GCM_SHA384        sclient open -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
session m02 in:tls:TLSv1.3:TLS_CHACHA20_POLY1305_SHA256  sclient open -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256
session m03 in:tls:TLSv1.2:ECDHE-RSA-AES256-GCM-SHA384   swaks   open --tls --tls-protocol tlsv1_2 --tls-cipher ECDHE-RSA-AES256-GCM-SHA384
session m04 in:tls:TLSv1.2:DHE-RSA-AES128-GCM-SHA256     swaks   open --tls --tls-protocol tlsv1_2 --tls-cipher DHE-RSA-AES128-GCM-SHA256
session m05 in:tls:TLSv1.2:AES128-SHA                    sclient open -tls1_2 -cipher AES128-SHA
# TLSv1/TLSv1.1 fail server-side even with static-RSA suites: at OpenSSL 3's default security level the server
# finds no usable (MD5-SHA1) signature
session m06 in:tls_failed                                sclient open -tls1 -cipher AES256-SHA@SECLEVEL=0
session m07 in:tls_failed                                sclient open -tls1_1 -cipher ECDHE-RSA-AES256-SHA@SECLEVEL=0
session m08 in:plaintext                                 swaks   open
session m09 in:tls_failed                                sclient open -tls1
session m10 in:tls_failed                                sclient open -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256
session m11 in:tls_failed                                raw_garbage open
session m12 in:starttls_abandoned                        raw_drop open
session m13 in:tls:TLSv1.3:TLS_AES_256_GCM_SHA384        sclient_hs open
session m14 in:tls:TLSv1.3:TLS_AES_128_GCM_SHA256        sclient_smtps smtps -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
session m15 in:tls:TLSv1.2:ECDHE-RSA-CHACHA20-POLY1305   sclient2 open -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305
session m16 in:plaintext                                 raw_quit open
session r01 in:plaintext,out:tls:TLSv1.3:TLS_AES_256_GCM_SHA384  relay open tls.relay.test
session r02 in:plaintext,out:plaintext                   relay open notls.relay.test
session p01 out:tls:TLSv1.3:TLS_AES_256_GCM_SHA384,in:tls:TLSv1.3:TLS_AES_256_GCM_SHA384  msp open

# ---------------------------------------------------- reference parse ----
# sendmail forks one process per connection: the pid ties lines together. The MSP logs as `sendmail`.
CLASSIFIER='
  if (/(?:sm-mta|sendmail)\[(\d+)\]: (?:\w+: )?STARTTLS=server, relay=.*, version=(\S+), verify=\S+, cipher=(\S+), bits=/) { IN("tls:$2:$3"); $S{"t$1"} = 1 }
  elsif (/(?:sm-mta|sendmail)\[(\d+)\]: STARTTLS=server, error: accept failed=.*reason=unexpected eof while reading/) { IN("starttls_abandoned"); $S{"t$1"} = 1 }
  elsif (/(?:sm-mta|sendmail)\[(\d+)\]: STARTTLS=server, error: /)             { IN("tls_failed"); $S{"t$1"} = 1 }
  elsif (/(?:sm-mta|sendmail)\[(\d+)\]: \w+: (?:from=<.*, relay=\S* ?\[|.* did not issue MAIL)/) { IN("plaintext") if !$S{"t$1"} && !$S{"c$1"}++ }
  elsif (/(?:sm-mta|sendmail)\[(\d+)\]: STARTTLS=client, relay=.*, version=(\S+), verify=\S+, cipher=(\S+), bits=/) { OUT("tls:$2:$3"); $S{"o$1"} = 1 }
  elsif (/(?:sm-mta|sendmail)\[(\d+)\]: STARTTLS=client, error: /)             { OUT("tls_failed"); $S{"o$1"} = 1 }
  elsif (/(?:sm-mta|sendmail)\[(\d+)\]: \w+: to=.* mailer=(?:e?smtp|relay), .*relay=/) { OUT("plaintext") if !$S{"o$1"}++ }
'
log "ran $N_SESSIONS sessions; checking"
drive_rc=0
stop_all
EXTRA_TRUTH='{"log_file":"mail.log","also":"mail.log.traditional (same events, traditional syslog timestamps)","sendmail_version":"8.17.1.9 (Debian 12, OpenSSL 3)","relay_target":"smtp-sink.mjs (STARTTLS and plaintext ports); its side is not logged"}' \
  write_truth > "$WORKDIR/truth.json" || drive_rc=$?

mkdir -p "$OUT"
rm -f "$OUT/mail.log" "$OUT/mail.log.traditional" "$OUT/truth.json" "$OUT"/report*.json
cp "$WORKDIR/log/mail.log" "$WORKDIR/log/mail.log.traditional" "$WORKDIR/truth.json" "$OUT/"
chmod a+r "$OUT"/*
log "logs: $OUT/mail.log, $OUT/mail.log.traditional ($(wc -l < "$OUT/mail.log") lines); truth: $OUT/truth.json"
if ((drive_rc != 0)); then
  log "FAIL: the Sendmail sessions did not all behave as planned (see the FAIL lines above)"
  exit 1
fi
log "Sendmail part OK in $((SECONDS - T0)) s"
if ((DRIVE_ONLY)); then log "--drive-only: not running tlscensus"; exit 0; fi

# ------------------------------------------------------------------ tlscensus ----
CLI="$ROOT/dist/src/cli/main.js"
[[ -f "$CLI" ]] || { log "FAIL: $CLI does not exist (run 'npm run build' first)"; exit 1; }
rc=0
node "$HERE/../lib/check-mta-census.mjs" --truth "$OUT/truth.json" --log "$OUT/mail.log" --cli "$CLI" --mta sendmail \
  --report-out "$OUT/report.json" || rc=1
# traditional syslog stamps carry no year
node "$HERE/../lib/check-mta-census.mjs" --truth "$OUT/truth.json" --log "$OUT/mail.log.traditional" --cli "$CLI" --mta sendmail \
  --year "$(date +%Y)" --report-out "$OUT/report.traditional.json" || rc=1
if ((rc == 0)); then
  log "PASS: tlscensus reports equal the truth ($((SECONDS - T0)) s)"
else
  log "FAIL: tlscensus report differs from the truth (see above; reports: $OUT/report*.json)"
fi
exit "$rc"
