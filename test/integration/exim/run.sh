#!/usr/bin/env bash
# test/integration/exim/run.sh -- tlscensus against a REAL Exim 4.96 (Debian 12, GnuTLS build), end to end.
#
#   1. unpacks the exim4 .debs (apt-get download + dpkg-deb -x: exim conflicts with the installed postfix, so it
#      is never apt-installed) and starts a private throwaway daemon on 127.0.0.1 with the log settings
#      docs/mta-exim-sendmail.md asks admins for: log_selector = +tls_cipher +tls_certificate_verified
#      +smtp_no_mail +pid (no +incoming_port, no +smtp_connection: connections are told apart by pid),
#   2. drives sessions of known outcome (lib/realmta.sh): TLS 1.0-1.3 with chosen suites, tls_on_connect,
#      two messages on one connection, handshake failures, STARTTLS then silence, plaintext, and outbound
#      deliveries the daemon makes to itself (TLS 1.3, TLS 1.2, plaintext, and a failed TLS 1.0 handshake that
#      falls back to plaintext); each session's client output and log lines are checked as it runs,
#   3. stops Exim and keeps OUT/mainlog + OUT/truth.json,
#   4. runs `node dist/src/cli/main.js report --format json --mta exim OUT/mainlog` and compares the census
#      with the truth (check.mjs; writes OUT/report.json), printing a diff and exiting 1 on any mismatch.
#
# Adapted from ../shared/realmta/exim-corpus.sh (which made test/fixtures/corpus/exim/); nothing outside this
# repository is read at run time.
#
# Usage: run.sh [--drive-only] [--out DIR]
# Environment: TLSCENSUS_IT_PORT (first base port tried, default 2645; 3 consecutive ports), TLSCENSUS_IT_WORKDIR
#   (default /tmp/tlscensus-it-exim, wiped), TLSCENSUS_IT_EXIM_ROOT (unpacked .debs, default
#   /tmp/tlscensus-it-exim-root, reused when present).
# Needs: root, the packages in apt-packages (installed through ../lib/apt-install.sh when missing), node >= 20,
#   a built tlscensus (npm run build). Exit status: 0 pass, 1 a check failed, 2 setup error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT="$ROOT/artifacts/integration/exim"
DRIVE_ONLY=0
while (($#)); do
  case "$1" in
    --drive-only) DRIVE_ONLY=1 ;;
    --out) OUT=$(realpath -m "$2"); shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

MTA=exim
WORKDIR=${TLSCENSUS_IT_WORKDIR:-/tmp/tlscensus-it-exim}
EXIM_ROOT=${TLSCENSUS_IT_EXIM_ROOT:-/tmp/tlscensus-it-exim-root}
FIRST_PORT=${TLSCENSUS_IT_PORT:-2645}
MAINLOG="$WORKDIR/log/mainlog"
LISTENERS="open strict smtps"
T0=$SECONDS
# shellcheck source=../lib/realmta.sh
source "$HERE/../lib/realmta.sh"
[[ $(id -u) == 0 ]] || die "must run as root (unpacks and starts Exim)"

# ------------------------------------------------------------------ packages ----
mapfile -t PKGS < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$HERE/apt-packages" | grep -v '^$')
bash "$HERE/../lib/apt-install.sh" "${PKGS[@]}" || die "could not install: ${PKGS[*]}"
for c in swaks openssl perl ss node; do command -v "$c" >/dev/null || die "'$c' not found"; done

EXIM="$EXIM_ROOT/usr/sbin/exim4"
if [[ ! -x "$EXIM" ]]; then
  log "unpacking exim4 .debs into $EXIM_ROOT (not installed: exim4 conflicts with postfix)"
  rm -rf "$EXIM_ROOT.debs" "$EXIM_ROOT"; mkdir -p "$EXIM_ROOT.debs" "$EXIM_ROOT"
  # apt-get download runs as _apt when it can write there (else it warns that it downloads unsandboxed)
  chmod 755 "$EXIM_ROOT.debs"; chown _apt "$EXIM_ROOT.debs" 2>/dev/null || true
  (cd "$EXIM_ROOT.debs" && apt-get -q -o Acquire::Retries=3 download exim4-daemon-light exim4-base exim4-config >/dev/null) ||
    die "apt-get download exim4-daemon-light exim4-base exim4-config failed"
  for d in "$EXIM_ROOT.debs"/*.deb; do dpkg-deb -x "$d" "$EXIM_ROOT"; done
fi
# the binary resolves its compiled-in user "Debian-exim" first thing
getent passwd Debian-exim >/dev/null ||
  adduser --system --group --home /var/spool/exim4 --no-create-home --quiet --allow-bad-names Debian-exim
ldd "$EXIM" | grep -q 'not found' && die "$EXIM misses libraries: $(ldd "$EXIM" | grep 'not found' | tr -s ' \t\n' ' ') (see apt-packages)"

# ------------------------------------------------------------------ instance ----
PIDFILE="$WORKDIR/exim.pid"
CONF="$WORKDIR/exim.conf"
TRUSTED=/etc/exim4/trusted_configs
stop_exim() {
  local pid i
  [[ -r "$PIDFILE" ]] || return 0
  pid=$(cat "$PIDFILE"); kill -0 "$pid" 2>/dev/null || return 0
  log "stopping exim daemon pid $pid"; kill "$pid"
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$PIDFILE"
}
cleanup() {
  local rc=$?
  set +e
  stop_exim
  if [[ -f "$TRUSTED" ]] && grep -qxF "$CONF" "$TRUSTED"; then
    grep -vxF "$CONF" "$TRUSTED" > "$TRUSTED.tmp"; cat "$TRUSTED.tmp" > "$TRUSTED"; rm -f "$TRUSTED.tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
stop_exim

BASE_PORT=""
for ((p = FIRST_PORT; p < FIRST_PORT + 100; p += 10)); do
  if port_free "$p" && port_free $((p + 1)) && port_free $((p + 2)); then BASE_PORT=$p; break; fi
  log "127.0.0.1:$p-$((p + 2)) busy, trying $((p + 10))"
done
[[ -n "$BASE_PORT" ]] || die "no 3 free ports in 127.0.0.1:$FIRST_PORT-$((FIRST_PORT + 99))"
port_of() { case "$1" in open) echo "$BASE_PORT" ;; strict) echo $((BASE_PORT + 1)) ;; smtps) echo $((BASE_PORT + 2)) ;; *) exit 2 ;; esac; }
P_OPEN=$(port_of open); P_STRICT=$(port_of strict); P_SMTPS=$(port_of smtps)

rm -rf "$WORKDIR"; mkdir -p "$WORKDIR"/{spool,log,tls,client}; chmod 755 "$WORKDIR"
chown Debian-exim:Debian-exim "$WORKDIR/spool" "$WORKDIR/log"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=mx.test.local \
  -keyout "$WORKDIR/tls/key.pem" -out "$WORKDIR/tls/cert.pem" 2>/dev/null
chown Debian-exim "$WORKDIR/tls/key.pem"; chmod 640 "$WORKDIR/tls/key.pem"

cat > "$CONF" <<EOF
# private throwaway Exim for the tlscensus integration suite
primary_hostname = mx.test.local
exim_path = $EXIM
spool_directory = $WORKDIR/spool
log_file_path = $WORKDIR/log/%slog
pid_file_path = $PIDFILE
keep_environment =
# What docs/mta-exim-sendmail.md asks for (tls_cipher and tls_certificate_verified are on by default).
log_selector = +tls_cipher +tls_certificate_verified +smtp_no_mail +pid
daemon_smtp_ports = $P_OPEN : $P_STRICT : $P_SMTPS
tls_on_connect_ports = $P_SMTPS
local_interfaces = 127.0.0.1
tls_advertise_hosts = *
tls_certificate = $WORKDIR/tls/cert.pem
tls_privatekey = $WORKDIR/tls/key.pem
# GnuTLS priority strings: "strict" = TLS1.2+; "open" and "smtps" also allow TLS1.0/1.1, SHA1 MACs and static RSA.
tls_require_ciphers = \${if eq{\$received_port}{$P_STRICT}\\
                        {NORMAL:-VERS-TLS1.0:-VERS-TLS1.1}\\
                        {NORMAL:+VERS-TLS1.0:+VERS-TLS1.1:+SHA1:+RSA:+DHE-RSA:%COMPAT}}
domainlist local_domains = test.local
acl_smtp_rcpt = acl_check_rcpt
host_lookup =
rfc1413_hosts =
never_users = root

begin acl
acl_check_rcpt:
  accept hosts = 127.0.0.1
  deny

begin routers
sink:
  driver = accept
  domains = +local_domains
  transport = devnull
# mail for *.relay.test received on another port is relayed to the strict port of this same daemon
relay_back:
  driver = manualroute
  domains = tls.relay.test : tls12.relay.test : notls.relay.test : tls10.relay.test
  condition = \${if !eq{\$received_port}{$P_STRICT}}
  route_data = 127.0.0.1::$P_STRICT
  self = send
  # constant transport names (a name built from \$domain would be tainted)
  transport = \${if eq{\$domain}{tls12.relay.test}{remote_tls12}\\
                {\${if eq{\$domain}{notls.relay.test}{remote_notls}\\
                {\${if eq{\$domain}{tls10.relay.test}{remote_tls10}{remote_tls}}}}}}
sink_relayed:
  driver = accept
  transport = devnull

begin transports
devnull:
  driver = appendfile
  file = /dev/null
  user = Debian-exim
remote_tls:
  driver = smtp
  allow_localhost
remote_tls12:
  driver = smtp
  allow_localhost
  tls_require_ciphers = NORMAL:-VERS-TLS1.3
remote_notls:
  driver = smtp
  allow_localhost
  hosts_avoid_tls = *
# TLS 1.0 only, against the strict (TLS1.2+) port: the handshake fails and, TLS being optional
# (tls_tempfail_tryclear), Exim delivers unencrypted on a new connection.
remote_tls10:
  driver = smtp
  allow_localhost
  tls_require_ciphers = NORMAL:-VERS-ALL:+VERS-TLS1.0:+SHA1:+RSA:%COMPAT

begin retry
*  *  F,1h,1m
EOF
# -C with a file listed in TRUSTED_CONFIG_LIST (Debian: /etc/exim4/trusted_configs) keeps root privilege on
# re-exec; otherwise every delivery logs "exim user lost privilege for using -C option". Removed again on exit.
mkdir -p /etc/exim4; touch "$TRUSTED"
grep -qxF "$CONF" "$TRUSTED" || echo "$CONF" >> "$TRUSTED"
"$EXIM" -C "$CONF" -bV >/dev/null || die "exim -C $CONF -bV failed"

queue_busy() { [[ -n "$(find "$WORKDIR/spool/input" -name '*-D' 2>/dev/null)" ]]; }

log "starting: $EXIM -C $CONF -bd -q30m (ports open=$P_OPEN strict=$P_STRICT smtps=$P_SMTPS)"
"$EXIM" -C "$CONF" -bd -q30m
for i in $(seq 1 50); do ! port_free "$P_SMTPS" && break; sleep 0.1; done

# ------------------------------------------------------------------ sessions ----
# EXPECT = events DIR:OUTCOME[:PROTO:CIPHER~LOGPROTO:LOGCIPHER]; OpenSSL names, then Exim's GnuTLS spelling.
: > "$RECORDS"
X13=ECDHE_X25519__RSA_PSS_RSAE_SHA256
P256=ECDHE_SECP256R1__RSA_PSS_RSAE_SHA256
session e01 in:tls:TLSv1.3:TLS_AES_256_GCM_SHA384~TLS1.3:${X13}__AES_256_GCM             sclient open -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
session e02 in:tls:TLSv1.3:TLS_CHACHA20_POLY1305_SHA256~TLS1.3:${X13}__CHACHA20_POLY1305 sclient open -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256
session e03 in:tls:TLSv1.3:TLS_AES_128_GCM_SHA256~TLS1.3:${X13}__AES_128_GCM             sclient open -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
session e04 in:tls:TLSv1.2:ECDHE-RSA-AES256-GCM-SHA384~TLS1.2:${X13}__AES_256_GCM        swaks open --tls --tls-protocol tlsv1_2 --tls-cipher ECDHE-RSA-AES256-GCM-SHA384
session e05 in:tls:TLSv1.2:DHE-RSA-AES128-GCM-SHA256~TLS1.2:DHE_CUSTOM2048__RSA_PSS_RSAE_SHA256__AES_128_GCM  swaks open --tls --tls-protocol tlsv1_2 --tls-cipher DHE-RSA-AES128-GCM-SHA256
session e06 in:tls:TLSv1.2:AES128-SHA~TLS1.2:RSA__AES_128_CBC__SHA1                       sclient open -tls1_2 -cipher AES128-SHA
session e07 in:tls:TLSv1.1:ECDHE-RSA-AES256-SHA~TLS1.1:ECDHE_X25519__RSA_SHA1__AES_256_CBC__SHA1  sclient open -tls1_1 -cipher DEFAULT@SECLEVEL=0
session e08 in:tls:TLSv1:ECDHE-RSA-AES128-SHA~TLS1.0:ECDHE_X25519__RSA_SHA1__AES_128_CBC__SHA1    swaks open --tls --tls-protocol tlsv1 --tls-cipher ECDHE-RSA-AES128-SHA@SECLEVEL=0
session e09 in:tls:TLSv1.2:ECDHE-RSA-AES128-GCM-SHA256~TLS1.2:${X13}__AES_128_GCM        swaks strict --tls --tls-protocol tlsv1_2 --tls-cipher ECDHE-RSA-AES128-GCM-SHA256
session e10 in:plaintext                                                                   swaks open
session e11 in:tls_failed                                                                  sclient open -tls1
session e12 in:tls_failed                                                                  sclient strict -tls1 -cipher DEFAULT@SECLEVEL=0
session e13 in:tls_failed                                                                  sclient open -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256
session e14 in:tls_failed                                                                  raw_garbage open
session e15 in:starttls_abandoned                                                          raw_drop open
session e16 in:tls:TLSv1.3:TLS_AES_256_GCM_SHA384~TLS1.3:${X13}__AES_256_GCM             sclient_hs open
session e17 in:tls:TLSv1.3:TLS_AES_128_GCM_SHA256~TLS1.3:${X13}__AES_128_GCM             sclient_smtps smtps -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
session e18 in:tls:TLSv1.3:TLS_AES_256_GCM_SHA384~TLS1.3:${X13}__AES_256_GCM             sclient2 open -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
session e19 in:plaintext                                                                   raw_quit open
# the client dies after EHLO over TLS: GnuTLS logs "(recv): The TLS connection was non-properly terminated."
session e20 in:tls:TLSv1.3:TLS_AES_256_GCM_SHA384~TLS1.3:${X13}__AES_256_GCM             sclient_cut open -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
session r01 in:plaintext,out:tls:TLSv1.3:TLS_AES_256_GCM_SHA384~TLS1.3:${P256}__AES_256_GCM,in:tls:TLSv1.3:TLS_AES_256_GCM_SHA384~TLS1.3:${P256}__AES_256_GCM  relay open tls.relay.test
session r02 in:plaintext,out:tls:TLSv1.2:ECDHE-RSA-AES256-GCM-SHA384~TLS1.2:ECDHE_SECP256R1__RSA_SHA256__AES_256_GCM,in:tls:TLSv1.2:ECDHE-RSA-AES256-GCM-SHA384~TLS1.2:ECDHE_SECP256R1__RSA_SHA256__AES_256_GCM  relay open tls12.relay.test
session r03 in:plaintext,out:plaintext,in:plaintext                                        relay open notls.relay.test
session r04 in:plaintext,out:tls_failed,in:tls_failed,out:plaintext,in:plaintext           relay open tls10.relay.test

# ---------------------------------------------------- reference parse ----
# With +pid every line of a receiving connection carries its process id; Exim logs TLS parameters only on
# message lines (<= received, => delivered) and, with +smtp_no_mail, on "no MAIL" lines.
CLASSIFIER='
  my ($pid) = /^\S+ \S+ \[(\d+)\]/; $pid //= 0;
  if (/ <= \S+ .* P=\S+ .*X=(TLS[\d.]+):([^:\s]+):\d+/)            { IN("tls:$1:$2") unless $S{"t$pid"}++ }
  elsif (/ <= \S+ .* P=(?:e?smtpa?) /)                            { IN("plaintext") unless $S{"p$pid"}++ }
  elsif (/TLS error on connection from .*\((gnutls_handshake)\): (.*)/) {
    $S{"e$pid"} = 1;
    if ($2 =~ /non-properly terminated|pull function/) { IN("starttls_abandoned") } else { IN("tls_failed") } }
  elsif (/no MAIL in SMTP connection from .* X=(TLS[\d.]+):([^:\s]+):\d+/) { IN("tls:$1:$2") }
  elsif (/no MAIL in SMTP connection from .* C=(\S+)/) {
    if ($1 !~ /STARTTLS/) { IN("plaintext") } elsif (!$S{"e$pid"}) { IN("starttls_abandoned") } }
  elsif (/TLS session: .*delivering unencrypted/)                 { OUT("tls_failed") }
  elsif (/ [=-]> .* H=\S+ \[[\d.]+\](?::\d+)? .*X=(TLS[\d.]+):([^:\s]+):\d+/) { OUT("tls:$1:$2") }
  elsif (/ => .* T=\S+ H=\S+ \[[\d.]+\]/)                         { OUT("plaintext") }
'
log "ran $N_SESSIONS sessions; checking"
drive_rc=0
EXTRA_TRUTH='{"log_file":"mainlog","exim_version":"4.96 (Debian 12, GnuTLS)","log_selector":"+tls_cipher +tls_certificate_verified +smtp_no_mail +pid"}' \
  write_truth > "$WORKDIR/truth.json" || drive_rc=$?
stop_exim

mkdir -p "$OUT"
rm -f "$OUT/mainlog" "$OUT/truth.json" "$OUT/report.json"
cp "$MAINLOG" "$WORKDIR/truth.json" "$OUT/"
chmod a+r "$OUT/mainlog" "$OUT/truth.json"
log "log: $OUT/mainlog ($(wc -l < "$OUT/mainlog") lines); truth: $OUT/truth.json"
if ((drive_rc != 0)); then
  log "FAIL: the Exim sessions did not all behave as planned (see the FAIL lines above)"
  exit 1
fi
log "Exim part OK in $((SECONDS - T0)) s"
if ((DRIVE_ONLY)); then log "--drive-only: not running tlscensus"; exit 0; fi

# ------------------------------------------------------------------ tlscensus ----
CLI="$ROOT/dist/src/cli/main.js"
[[ -f "$CLI" ]] || { log "FAIL: $CLI does not exist (run 'npm run build' first)"; exit 1; }
if node "$HERE/../lib/check-mta-census.mjs" --truth "$OUT/truth.json" --log "$OUT/mainlog" --cli "$CLI" --mta exim \
     --report-out "$OUT/report.json"; then
  log "PASS: tlscensus report equals the truth ($((SECONDS - T0)) s)"
else
  log "FAIL: tlscensus report differs from the truth (see above; report: $OUT/report.json)"
  exit 1
fi
