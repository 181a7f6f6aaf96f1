#!/usr/bin/env bash
# postfix-instance.sh -- a private, throwaway Postfix (Debian package) on loopback, logging to a file.
#
# Adapted from ../shared/realmta/postfix-recipe.sh (the tested recipe; see ../shared/realmta/README.md §1),
# trimmed to building, starting and stopping the instance. Sessions are driven by drive.mjs.
#
#   postfix-instance.sh start WORKDIR BASE_PORT   wipe WORKDIR, build the instance, start it, wait for the ports
#   postfix-instance.sh restart WORKDIR BASE_PORT start the instance built before again, as configured now
#   postfix-instance.sh stop  WORKDIR             stop it (no-op when not running); waits for master to exit
#   postfix-instance.sh flush WORKDIR             postqueue -f
#   postfix-instance.sh busy  WORKDIR             exit 0 while mail is still queued
#
# Listeners (127.0.0.1 only; the system instance, /etc/postfix and port 25 are never touched):
#   BASE_PORT+0  open    smtpd, STARTTLS offered, TLSv1..TLSv1.3 accepted          (postfix/smtpd)
#   BASE_PORT+1  strict  smtpd, STARTTLS offered, only >=TLSv1.2                     (postfix/strict/smtpd)
#   BASE_PORT+2  relay   smtpd without STARTTLS; relays by recipient domain through the
#                        postfix/smtp client transports below back to open/strict   (postfix/relayin/smtpd)
#   BASE_PORT+3  smtps   smtpd with implicit TLS (smtpd_tls_wrappermode, port-465 style) (postfix/smtps/smtpd)
# Outbound transports (recipient domain -> transport -> target), see the transport map below:
#   tls13.relay.test       smtp-tls13  >=TLSv1.3                      -> open
#   tls12.relay.test       smtp-tls12  <=TLSv1.2, only ECDHE-RSA-AES128-GCM-SHA256 offered -> open
#   tls10strict.relay.test smtp-tls10  <=TLSv1 (a defer_transport)     -> strict: handshake fails, plaintext retry
#   notls.relay.test       smtp-notls  smtp_tls_security_level=none    -> open
# Must run as root.
set -euo pipefail

say() { printf '[postfix-instance] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 2; }

cmd=${1:-}
WORKDIR=${2:-}
[[ -n "$cmd" && -n "$WORKDIR" ]] || die "usage: postfix-instance.sh start|stop|flush|busy WORKDIR [BASE_PORT]"
case "$WORKDIR" in
  /tmp/?*) ;;
  *) die "refusing WORKDIR=$WORKDIR (must be a directory under /tmp; it is wiped)" ;;
esac
CONF="$WORKDIR/etc"
MAILLOG="$WORKDIR/log/maillog"

master_pid() {
  local f="$WORKDIR/spool/pid/master.pid" pid
  [[ -r "$f" ]] || return 1
  pid=$(tr -dc '0-9' < "$f")
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

stop_instance() {
  local pid i
  pid=$(master_pid) || return 0
  say "stopping Postfix (master pid $pid)"
  postfix -c "$CONF" stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  say "master $pid did not exit after 10s; sending SIGKILL"
  kill -9 "$pid" 2>/dev/null || true
}

queue_busy() { find "$WORKDIR"/spool/{incoming,active,deferred,maildrop} -type f 2>/dev/null | grep -q .; }

# Port check without ss/iproute2 (not on a minimal Debian): try to bind it.
port_free() {
  node -e '
    const s = require("node:net").createServer();
    s.once("error", () => process.exit(1));
    s.listen({ host: "127.0.0.1", port: Number(process.argv[1]), exclusive: true }, () => s.close(() => process.exit(0)));
  ' "$1"
}

build_instance() {
  local base=$1
  local open=$base strict=$((base + 1)) relay=$((base + 2)) smtps=$((base + 3)) p
  command -v postfix >/dev/null || die "postfix is not installed (apt-get install postfix)"
  id postfix >/dev/null 2>&1 || die "user postfix missing (is the postfix package installed?)"
  stop_instance
  rm -rf "$WORKDIR"
  mkdir -p "$CONF" "$WORKDIR"/{spool,data,log,tls}
  chmod 755 "$WORKDIR"                      # postfix daemons (user postfix) must traverse it
  chown postfix:postfix "$WORKDIR/data"     # else: fatal: open lock file .../data/master.lock
  runuser -u postfix -- test -x "$WORKDIR/spool" ||
    die "user postfix cannot reach $WORKDIR (a parent directory is not searchable)"
  for p in "$open" "$strict" "$relay" "$smtps"; do
    port_free "$p" || die "127.0.0.1:$p is already in use"
  done

  # RSA so that ECDHE-RSA, DHE-RSA and static-RSA key exchange are all possible.
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=mx.test.local" \
    -keyout "$WORKDIR/tls/key.pem" -out "$WORKDIR/tls/cert.pem" 2>/dev/null
  chmod 600 "$WORKDIR/tls/key.pem"

  cat > "$CONF/main.cf" <<EOF
# private throwaway instance for the tlscensus integration test (test/integration/postfix)
compatibility_level = 3.6
config_directory = $CONF
queue_directory = $WORKDIR/spool
data_directory = $WORKDIR/data
# log straight to a file through postlogd(8) (Postfix >= 3.4), no syslog needed
maillog_file = $MAILLOG
maillog_file_prefixes = /var, /dev/stdout, $WORKDIR/log
myhostname = mx.test.local
mydomain = test.local
myorigin = \$mydomain
mydestination = test.local
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
# accept any local part of test.local and throw the mail away
local_recipient_maps =
local_transport = discard
alias_maps =
alias_database =
# *.relay.test is sent back to ourselves through postfix/smtp transports
transport_maps = texthash:$CONF/transport
# server-side TLS
smtpd_tls_cert_file = $WORKDIR/tls/cert.pem
smtpd_tls_key_file = $WORKDIR/tls/key.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
# client-side TLS (outbound deliveries)
smtp_tls_security_level = may
smtp_tls_loglevel = 1
# Nexthops are [localhost]:port, resolved through /etc/hosts (there is no DNS here), so the outbound peer has
# a name: "... TLS connection established to localhost[127.0.0.1]:port".
smtp_host_lookup = native
# After a failed STARTTLS handshake at level "may" the smtp client retries in plaintext only if the message
# already waited >= minimal_backoff_time (else it defers and the number of failed attempts depends on timing).
# So smtp-tls10 is a defer_transport: the driver runs "postqueue -f" >= 2 s after submitting, exactly one
# handshake fails and the plaintext retry on a new connection delivers it (realmta/README.md, r03).
queue_run_delay = 1s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
defer_transports = smtp-tls10
EOF

  cat > "$CONF/transport" <<EOF
tls13.relay.test        smtp-tls13:[localhost]:$open
tls12.relay.test        smtp-tls12:[localhost]:$open
tls10strict.relay.test  smtp-tls10:[localhost]:$strict
notls.relay.test        smtp-notls:[localhost]:$open
EOF

  # No chroot (the queue is not under /var/spool/postfix), no port 25. Receiving listeners rewrite every
  # recipient to sink@test.local (cleanup-sink), so relayed mail is discarded instead of relayed again.
  # smtp-tls12 offers exactly one suite (tls_high_cipherlist, grade "high"): with both ends at level "may"
  # Postfix<->Postfix TLSv1.2 would otherwise pick an anonymous ADH suite (realmta/README.md, r02).
  cat > "$CONF/master.cf" <<EOF
# service   type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$open inet n    -       n       -       -       smtpd
  -o cleanup_service_name=cleanup-sink
127.0.0.1:$strict inet n  -       n       -       -       smtpd
  -o syslog_name=postfix/strict
  -o cleanup_service_name=cleanup-sink
  -o smtpd_tls_protocols=>=TLSv1.2
127.0.0.1:$relay inet n   -       n       -       -       smtpd
  -o syslog_name=postfix/relayin
  -o smtpd_tls_security_level=none
127.0.0.1:$smtps inet n   -       n       -       -       smtpd
  -o syslog_name=postfix/smtps
  -o cleanup_service_name=cleanup-sink
  -o smtpd_tls_wrappermode=yes
cleanup-sink unix n       -       n       -       0       cleanup
  -o virtual_alias_maps=static:sink@test.local
smtp-tls13 unix  -       -       n       -       -       smtp
  -o smtp_tls_protocols=>=TLSv1.3
smtp-tls12 unix  -       -       n       -       -       smtp
  -o smtp_tls_protocols=<=TLSv1.2
  -o smtp_tls_ciphers=high
  -o tls_high_cipherlist=ECDHE-RSA-AES128-GCM-SHA256
smtp-tls10 unix  -       -       n       -       -       smtp
  -o smtp_tls_protocols=<=TLSv1
smtp-notls unix  -       -       n       -       -       smtp
  -o smtp_tls_security_level=none
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

start_instance() {
  local base=$1 i
  say "starting: postfix -c $CONF start"
  if ! postfix -c "$CONF" start >"$WORKDIR/start.out" 2>&1; then
    cat "$WORKDIR/start.out" >&2
    cat "$MAILLOG" >&2 2>/dev/null || true
    die "postfix start failed"
  fi
  for i in $(seq 1 50); do
    if ! port_free "$base" && ! port_free $((base + 1)) && ! port_free $((base + 2)) && ! port_free $((base + 3)); then
      say "listening on 127.0.0.1:$base (open) :$((base + 1)) (strict) :$((base + 2)) (relay) :$((base + 3)) (smtps); master pid $(master_pid)"
      return 0
    fi
    sleep 0.2
  done
  cat "$MAILLOG" >&2 2>/dev/null || true
  die "Postfix did not open its ports within 10s"
}

case "$cmd" in
  start)
    [[ $(id -u) == 0 ]] || die "must run as root"
    base=${3:-}
    [[ "$base" =~ ^[0-9]+$ ]] || die "start needs BASE_PORT"
    build_instance "$base"
    start_instance "$base"
    ;;
  restart)
    # Starts the instance built by an earlier `start` again, as it is configured now (run.sh's verify step).
    base=${3:-}
    [[ "$base" =~ ^[0-9]+$ ]] || die "restart needs BASE_PORT"
    start_instance "$base"
    ;;
  stop) stop_instance ;;
  flush) postqueue -c "$CONF" -f ;;
  busy) queue_busy ;;
  *) die "unknown command '$cmd'" ;;
esac
