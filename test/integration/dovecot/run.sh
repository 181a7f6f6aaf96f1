#!/usr/bin/env bash
# test/integration/dovecot/run.sh -- tlscensus against a REAL Dovecot 2.3 (Debian 12 dovecot-imapd/-pop3d).
#
#   1. builds a private throwaway Dovecot under WORKDIR (own dovecot.conf, base_dir and log_path; the system
#      instance and /etc/dovecot are never used) with %k in login_log_format_elements, IMAP and POP3 on loopback,
#   2. drives IMAP/POP3 sessions of known outcome (lib/realmta.sh drivers) and writes truth.json,
#   3. stops Dovecot and keeps the log: OUT/dovecot.log + OUT/truth.json,
#   4. runs `node dist/src/cli/main.js report --format json --mta dovecot --year YYYY OUT/dovecot.log` (and the
#      same with --mta auto) and compares the `mailbox` section with the truth (lib/check-census.mjs).
# Adapted from ../shared/realmta/dovecot-corpus.sh (realmta README §4).
#
# Usage: run.sh [--drive-only] [--out DIR]
# Environment: TLSCENSUS_IT_PORT (first port, default 2825; 4 consecutive ports: imap, imaps, pop3, pop3s; the next
#   block of 10 is tried when busy), TLSCENSUS_IT_WORKDIR (default /tmp/tlscensus-it-dovecot, wiped).
# Needs: root, the packages in apt-packages (installed through ../lib/apt-install.sh when missing), node >= 20, a
#   built tlscensus (npm run build). Takes about 40 s.
# Exit status: 0 pass, 1 a check failed, 2 setup error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT="$ROOT/artifacts/integration/dovecot"
WORKDIR=${TLSCENSUS_IT_WORKDIR:-/tmp/tlscensus-it-dovecot}
FIRST_PORT=${TLSCENSUS_IT_PORT:-2825}
DRIVE_ONLY=0
while (($#)); do
  case "$1" in
    --drive-only) DRIVE_ONLY=1 ;;
    --out) OUT=$(realpath -m "$2"); shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
case "$WORKDIR" in /tmp/?*) ;; *) echo "run.sh: WORKDIR must be under /tmp (it is wiped)" >&2; exit 2 ;; esac

MTA=dovecot
MAINLOG="$WORKDIR/log/dovecot.log"
LISTENERS="imap imaps pop3 pop3s"
BASE_PORT=$FIRST_PORT
port_of() {
  case "$1" in
    imap) echo "$BASE_PORT" ;; imaps) echo $((BASE_PORT + 1)) ;;
    pop3) echo $((BASE_PORT + 2)) ;; pop3s) echo $((BASE_PORT + 3)) ;; *) exit 2 ;;
  esac
}
# shellcheck source=../lib/realmta.sh
source "$HERE/../lib/realmta.sh"
T0=$SECONDS

[[ $(id -u) == 0 ]] || die "must run as root (starts Dovecot)"
mapfile -t PKGS < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$HERE/apt-packages" | grep -v '^$')
bash "$HERE/../lib/apt-install.sh" "${PKGS[@]}" || die "could not install ${PKGS[*]}"
for c in dovecot doveconf openssl perl node; do command -v "$c" >/dev/null || die "'$c' not found"; done

# ------------------------------------------------------------------ instance ----
CONF="$WORKDIR/dovecot.conf"
stop_dovecot() {
  [[ -f "$CONF" && -f "$WORKDIR/run/master.pid" ]] || return 0
  local pid i; pid=$(cat "$WORKDIR/run/master.pid")
  kill -0 "$pid" 2>/dev/null || return 0
  log "stopping dovecot (master pid $pid)"
  doveadm -c "$CONF" stop 2>/dev/null || dovecot -c "$CONF" stop 2>/dev/null || kill "$pid"
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
trap stop_dovecot EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
stop_dovecot   # one left by a killed earlier run

block_free() { local l; for l in $LISTENERS; do port_free "$(port_of "$l")" || return 1; done; }
for ((BASE_PORT = FIRST_PORT; BASE_PORT < FIRST_PORT + 100; BASE_PORT += 10)); do
  block_free && break
  log "ports $BASE_PORT-$((BASE_PORT + 3)) busy, trying $((BASE_PORT + 10))"
done
block_free || die "no free block of 4 ports in 127.0.0.1:$FIRST_PORT-$((FIRST_PORT + 99))"

rm -rf "$WORKDIR"; mkdir -p "$WORKDIR"/{run,state,log,tls,client,mail}; chmod 755 "$WORKDIR"
chown nobody:nogroup "$WORKDIR/mail"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=imap.test.local \
  -keyout "$WORKDIR/tls/key.pem" -out "$WORKDIR/tls/cert.pem" 2>/dev/null
# RFC 7919 group, instant (no slow "openssl dhparam"); enables the DHE suites
openssl genpkey -genparam -algorithm DH -pkeyopt dh_param:ffdhe2048 -out "$WORKDIR/tls/dh.pem" 2>/dev/null

cat > "$CONF" <<CONF
# private throwaway Dovecot for the tlscensus integration test (test/integration/dovecot)
base_dir = $WORKDIR/run
state_dir = $WORKDIR/state
log_path = $WORKDIR/log/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <$WORKDIR/tls/cert.pem
ssl_key = <$WORKDIR/tls/key.pem
ssl_dh = <$WORKDIR/tls/dh.pem
# Debian/Dovecot defaults kept: ssl_min_protocol = TLSv1.2 and a cipher list without kRSA.
# %k = "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)": without it Dovecot logs only "TLS".
login_log_format_elements = user=<%u> method=%m rip=%r lip=%l mpid=%e %c %k session=<%{session}>
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = static
  args = password=pass
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$WORKDIR/mail/%u
}
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $(port_of imap)
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $(port_of imaps)
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $(port_of pop3)
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $(port_of pop3s)
    ssl = yes
  }
}
CONF
doveconf -c "$CONF" -n >/dev/null || die "doveconf rejected $CONF"
log "starting: dovecot -c $CONF (ports $BASE_PORT-$((BASE_PORT + 3)))"
dovecot -c "$CONF"
for l in $LISTENERS; do wait_port "$(port_of "$l")" || die "dovecot does not listen on $(port_of "$l")"; done

# ------------------------------------------------------------------ sessions ----
: > "$RECORDS"
session d01 in:tls:TLSv1.3:TLS_AES_256_GCM_SHA384        imap_sclient imap -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
session d02 in:tls:TLSv1.3:TLS_CHACHA20_POLY1305_SHA256  imap_sclient imap -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256
session d03 in:tls:TLSv1.2:ECDHE-RSA-AES256-GCM-SHA384   imap_sclient imap -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384
session d04 in:tls:TLSv1.2:DHE-RSA-AES128-GCM-SHA256     imap_sclient imap -tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256
session d05 in:tls:TLSv1.3:TLS_AES_128_GCM_SHA256        imaps_sclient imaps -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
# LOGIN without STARTTLS from the server's own address: Dovecot calls it `secured` (trusted), not plaintext
session d06 in:trusted                                   imap_plain_from imap 127.0.0.1
# the same from another loopback address: a plaintext login
session d07 in:plaintext                                 imap_plain_from imap 127.0.0.5
# connects, reads the greeting, LOGOUT without any authentication attempt: no command of value
session d08 in:no_command                                imap_silent_from imap 127.0.0.6
# server minimum is TLSv1.2 (Dovecot 2.3 default); over STARTTLS 2.3.19 logs only "syscall failed: Invalid argument"
session d09 in:tls_failed                                imap_sclient imap -tls1 -cipher DEFAULT@SECLEVEL=0
# static RSA key exchange is excluded by Dovecot's default cipher list (!kRSA)
session d10 in:tls_failed                                imaps_sclient imaps -tls1_2 -cipher AES128-SHA
session d11 in:tls_failed                                imaps_sclient imaps -tls1_1 -cipher DEFAULT@SECLEVEL=0
session d12 in:starttls_abandoned                        imap_raw_drop imap
session p01 in:tls:TLSv1.3:TLS_AES_256_GCM_SHA384        pop3_sclient pop3 -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
session p02 in:tls:TLSv1.2:ECDHE-RSA-AES128-GCM-SHA256   pop3s_sclient pop3s -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256

# ---------------------------------------------------- reference parse ----
# A self-check of the driver (did each session do what its plan says?), in Dovecot's own wording.
CLASSIFIER='
  if (/-login: Info: .* (TLSv[\d.]+) with cipher (\S+) \(\d+\/\d+ bits\)/)  { IN("tls:$1:$2") }
  elsif (/-login: Info: Login: .*, secured, /)                               { IN("trusted") }
  elsif (/-login: Info: Login: /)                                            { IN("plaintext") }
  elsif (/-login: Info: .*TLS handshaking: SSL_accept\(\) (?:syscall )?failed/) { IN("tls_failed") }
  elsif (/-login: Info: .*TLS handshaking: (?:Connection closed|Disconnected)/)   { IN("starttls_abandoned") }
  elsif (/-login: Info: .*\(no auth attempts in /)                          { IN("no_command") }
'
log "ran $N_SESSIONS sessions; checking them"
drive_rc=0
EXTRA_TRUTH='{"log_file":"dovecot.log","dovecot_version":"'"$(dovecot --version)"'","protocols":"imap pop3"}' \
  write_truth > "$WORKDIR/truth.json" || drive_rc=$?
stop_dovecot; trap - EXIT
mkdir -p "$OUT"
cp "$WORKDIR/truth.json" "$MAINLOG" "$OUT/"
chmod a+r "$OUT"/* 2>/dev/null || true
log "log: $OUT/dovecot.log ($(wc -l < "$OUT/dovecot.log") lines); truth: $OUT/truth.json"
if ((drive_rc != 0)); then
  log "FAIL: the Dovecot sessions did not all behave as planned (see the FAIL lines above)"
  exit 1
fi
log "Dovecot part OK in $((SECONDS - T0)) s"
((DRIVE_ONLY)) && { log "--drive-only: not running tlscensus"; exit 0; }

# ------------------------------------------------------------------ tlscensus ----
CLI="$ROOT/dist/src/cli/main.js"
[[ -f "$CLI" ]] || { log "FAIL: $CLI does not exist (run 'npm run build' first)"; exit 1; }
if node "$HERE/../lib/check-census.mjs" --truth "$OUT/truth.json" --log "$OUT/dovecot.log" --cli "$CLI" \
     --mta dovecot --in-section mailbox --report-out "$OUT/report.json"; then
  log "PASS: tlscensus report equals the truth ($((SECONDS - T0)) s)"
else
  log "FAIL: tlscensus report differs from the truth (see above; report: $OUT/report.json)"
  exit 1
fi
