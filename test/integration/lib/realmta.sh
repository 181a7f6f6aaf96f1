# realmta.sh -- session drivers and the truth.json writer for the real-daemon suites that drive a server with
# scripted clients (exim/, sendmail/, opensmtpd/, dovecot/). Adapted from ../shared/realmta/lib-realmta.sh (the
# tested originals; ../shared/realmta/README.md §6-§7), so that CI needs nothing outside this repository: port
# checks without iproute2, drivers sclient2 (two messages on one TLS connection), raw_quit (EHLO + QUIT, no MAIL)
# and sclient_hs (handshake, then hang up), drivers that connect from a chosen loopback address
# (lib/line-client.mjs), the outcomes `trusted` and `no_command`, and the year of the log in the truth.
#
# The sourcing script must set:
#   MTA        name written into truth.json
#   WORKDIR    scratch dir (client transcripts go to $WORKDIR/client)
#   MAINLOG    the log file that is sliced per session
#   LISTENERS  space-separated listener names
#   CLASSIFIER perl code run for every log line of a session slice ($_ = line); it reports a reference
#              classification with IN("tls:PROTO:CIPHER" | "plaintext" | "tls_failed" | "starttls_abandoned" |
#              "trusted" | "no_command") and OUT(...). %S is a scratch hash cleared before each session. It is a
#              self-check of the driver (did the session do what its plan says?), not the expectation.
# and define:
#   port_of LISTENER   -> port number
#   queue_busy         -> exit 0 while mail is still queued (optional)
#
# Session line:  session ID EXPECT DRIVER LISTENER [args...]
# EXPECT = comma-separated events DIR:OUTCOME[:PROTO:CIPHER[~LOGPROTO:LOGCIPHER]]
#   DIR in|out, OUTCOME tls|plaintext|tls_failed|starttls_abandoned|trusted|no_command,
#   PROTO/CIPHER as OpenSSL names them, ~LOGPROTO:LOGCIPHER how this MTA's log spells them when it differs.
# The expectation comes from what the client is made to do, never from the log.

LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log()  { printf '[%s-it] %s\n' "$MTA" "$*" >&2; }
die()  { log "ERROR: $*"; exit 2; }
# Bind test without ss/iproute2 (not on a minimal Debian).
port_free() {
  node -e '
    const s = require("node:net").createServer();
    s.once("error", () => process.exit(1));
    s.listen({ host: "127.0.0.1", port: Number(process.argv[1]), exclusive: true }, () => s.close(() => process.exit(0)));
  ' "$1"
}
wait_port() {  # port: wait until something listens (max 10 s)
  local i
  for i in $(seq 1 100); do port_free "$1" || return 0; sleep 0.1; done
  return 1
}
declare -F queue_busy >/dev/null || queue_busy() { return 1; }

# ---------------------------------------------------------------- SMTP ----
smtp_dialogue() {  # $1 = session id; paced, no PIPELINING needed
  sleep 0.3
  printf 'EHLO %s.client.test\r\n' "$1";                 sleep 0.2
  printf 'MAIL FROM:<%s@client.test>\r\n' "$1";          sleep 0.1
  printf 'RCPT TO:<user@test.local>\r\n';                sleep 0.1
  printf 'DATA\r\n';                                     sleep 0.1
  printf 'Subject: tlscensus %s\r\nMessage-Id: <%s@client.test>\r\n\r\nsession %s\r\n.\r\n' "$1" "$1" "$1"; sleep 0.2
  printf 'QUIT\r\n';                                     sleep 0.3
}
# -ign_eof also disables s_client's "R"enegotiate/"Q"uit command letters (which would fire on "RCPT TO").
drv_sclient() {
  local id=$1 port; port=$(port_of "$2"); shift 2
  CMD="openssl s_client -starttls smtp -connect 127.0.0.1:$port -name $id.client.test -brief -ign_eof $*  <<< EHLO/MAIL/RCPT/DATA/QUIT"
  smtp_dialogue "$id" | timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$port" \
      -name "$id.client.test" -brief -ign_eof "$@"
}
drv_sclient_smtps() {  # implicit TLS (smtps / port-465 style), then the dialogue
  local id=$1 port; port=$(port_of "$2"); shift 2
  CMD="openssl s_client -connect 127.0.0.1:$port -brief -ign_eof $*  <<< EHLO/MAIL/RCPT/DATA/QUIT"
  smtp_dialogue "$id" | timeout 20 openssl s_client -connect "127.0.0.1:$port" -brief -ign_eof "$@"
}
smtp_dialogue2() {  # $1 = session id; two messages on one connection
  sleep 0.3
  printf 'EHLO %s.client.test\r\n' "$1";                 sleep 0.2
  local n
  for n in 1 2; do
    printf 'MAIL FROM:<%s@client.test>\r\n' "$1";        sleep 0.1
    printf 'RCPT TO:<user@test.local>\r\n';              sleep 0.1
    printf 'DATA\r\n';                                   sleep 0.1
    printf 'Subject: tlscensus %s/%s\r\nMessage-Id: <%s.%s@client.test>\r\n\r\nsession %s\r\n.\r\n' "$1" "$n" "$1" "$n" "$1"; sleep 0.3
  done
  printf 'QUIT\r\n';                                     sleep 0.3
}
drv_sclient2() {  # STARTTLS, then two messages in the same TLS session
  local id=$1 port; port=$(port_of "$2"); shift 2
  CMD="openssl s_client -starttls smtp -connect 127.0.0.1:$port -name $id.client.test -brief -ign_eof $*  <<< EHLO/(MAIL/RCPT/DATA)x2/QUIT"
  smtp_dialogue2 "$id" | timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$port" \
      -name "$id.client.test" -brief -ign_eof "$@"
}
# Opens fd 3 to the listener on `port`, reads the greeting, says EHLO as `id` and reads the whole 250 reply.
raw_open_ehlo() {  # id port
  local line
  exec 3<>"/dev/tcp/127.0.0.1/$2"
  read -r -t 5 line <&3; echo "S: $line"
  printf 'EHLO %s.client.test\r\n' "$1" >&3; echo "C: EHLO $1.client.test"
  while read -r -t 5 line <&3; do echo "S: $line"; [[ "$line" == 250\ * ]] && break; done
}
drv_raw_quit() {  # plaintext EHLO + QUIT: a connection without MAIL
  local id=$1 port line; port=$(port_of "$2")
  CMD="bash /dev/tcp: EHLO, QUIT (no STARTTLS, no MAIL)"
  raw_open_ehlo "$id" "$port"
  printf 'QUIT\r\n' >&3; echo "C: QUIT"
  read -r -t 5 line <&3; echo "S: $line"
  exec 3>&- 3<&-
}
drv_sclient_hs() {  # STARTTLS + handshake, then EOF on stdin -> hang up
  local id=$1 port; port=$(port_of "$2"); shift 2
  CMD="openssl s_client -starttls smtp -connect 127.0.0.1:$port -name $id.client.test -brief $* </dev/null"
  timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$port" \
      -name "$id.client.test" -brief "$@" < /dev/null
}
drv_sclient_cut() {  # STARTTLS + handshake + EHLO, then the client is killed: no close_notify, a TCP FIN
  local id=$1 port pid; port=$(port_of "$2"); shift 2
  CMD="openssl s_client -starttls smtp -connect 127.0.0.1:$port -name $id.client.test -brief -ign_eof $* <<< EHLO, then kill -9"
  openssl s_client -starttls smtp -connect "127.0.0.1:$port" -name "$id.client.test" -brief -ign_eof "$@" \
    < <(sleep 0.5; printf 'EHLO %s.client.test\r\n' "$id"; sleep 5) &
  pid=$!
  sleep 1.5
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}
drv_swaks() {
  local id=$1 port; port=$(port_of "$2"); shift 2
  CMD="swaks --server 127.0.0.1:$port --ehlo $id.client.test --from $id@client.test --to user@test.local $*"
  timeout 30 swaks --server "127.0.0.1:$port" --ehlo "$id.client.test" \
      --from "$id@client.test" --to user@test.local \
      --header "Subject: tlscensus $id" --header "Message-Id: <$id@client.test>" "$@"
}
drv_relay() {  # id listener domain: plaintext submission, the MTA relays onward
  local id=$1 port dom=$3; port=$(port_of "$2")
  CMD="swaks --server 127.0.0.1:$port --ehlo $id.client.test --from $id@client.test --to user@$dom"
  timeout 30 swaks --server "127.0.0.1:$port" --ehlo "$id.client.test" \
      --from "$id@client.test" --to "user@$dom" \
      --header "Subject: tlscensus $id" --header "Message-Id: <$id@client.test>"
}
raw_smtp_starttls() {  # id listener drop|garbage
  local id=$1 port line; port=$(port_of "$2")
  raw_open_ehlo "$id" "$port"
  printf 'STARTTLS\r\n' >&3; echo "C: STARTTLS"
  read -r -t 5 line <&3; echo "S: $line"
  if [[ "$3" == garbage ]]; then
    printf 'EHLO %s.client.test\r\n' "$id" >&3; echo "C: EHLO (plaintext instead of a ClientHello)"; sleep 0.5
  fi
  exec 3>&- 3<&-; echo "C: <close>"
}
drv_raw_drop()    { CMD="bash /dev/tcp: EHLO, STARTTLS, read 220, close"; raw_smtp_starttls "$1" "$2" drop; }
drv_raw_garbage() { CMD="bash /dev/tcp: EHLO, STARTTLS, read 220, send plaintext 'EHLO', close"; raw_smtp_starttls "$1" "$2" garbage; }

# ---------------------------------------------------------------- IMAP / POP3 ----
imap_dialogue() {  # after the (STARTTLS) handshake; any password is accepted (static passdb)
  sleep 0.3
  printf 'a1 LOGIN %s pass\r\n' "$1"; sleep 0.4
  printf 'a2 SELECT INBOX\r\n';       sleep 0.2
  printf 'a3 LOGOUT\r\n';             sleep 0.3
}
pop3_dialogue() {
  sleep 0.3
  printf 'USER %s\r\n' "$1"; sleep 0.2
  printf 'PASS pass\r\n';    sleep 0.4
  printf 'STAT\r\n';         sleep 0.2
  printf 'QUIT\r\n';         sleep 0.3
}
drv_imap_sclient() {  # STARTTLS on the plain IMAP port
  local id=$1 port; port=$(port_of "$2"); shift 2
  CMD="openssl s_client -starttls imap -connect 127.0.0.1:$port -brief -ign_eof $*  <<< LOGIN $id/SELECT/LOGOUT"
  imap_dialogue "$id" | timeout 20 openssl s_client -starttls imap -connect "127.0.0.1:$port" -brief -ign_eof "$@"
}
drv_imaps_sclient() {  # implicit TLS (imaps)
  local id=$1 port; port=$(port_of "$2"); shift 2
  CMD="openssl s_client -connect 127.0.0.1:$port -brief -ign_eof $*  <<< LOGIN $id/SELECT/LOGOUT"
  imap_dialogue "$id" | timeout 20 openssl s_client -connect "127.0.0.1:$port" -brief -ign_eof "$@"
}
drv_pop3_sclient() {  # STLS on the plain POP3 port
  local id=$1 port; port=$(port_of "$2"); shift 2
  CMD="openssl s_client -starttls pop3 -connect 127.0.0.1:$port -brief -ign_eof $*  <<< USER $id/PASS/STAT/QUIT"
  pop3_dialogue "$id" | timeout 20 openssl s_client -starttls pop3 -connect "127.0.0.1:$port" -brief -ign_eof "$@"
}
drv_pop3s_sclient() {  # implicit TLS (pop3s)
  local id=$1 port; port=$(port_of "$2"); shift 2
  CMD="openssl s_client -connect 127.0.0.1:$port -brief -ign_eof $*  <<< USER $id/PASS/STAT/QUIT"
  pop3_dialogue "$id" | timeout 20 openssl s_client -connect "127.0.0.1:$port" -brief -ign_eof "$@"
}
# Plaintext IMAP from a chosen loopback source address (Dovecot calls a client `secured` only when it comes from
# the server's own address or login_trusted_networks, so 127.0.0.1 -> 127.0.0.1 is trusted, 127.0.0.5 is not).
drv_imap_plain_from() {  # id listener source-address
  local id=$1 port src=$3; port=$(port_of "$2")
  CMD="node line-client: from $src, a1 LOGIN $id pass / a2 SELECT INBOX / a3 LOGOUT (no STARTTLS)"
  node "$LIB_DIR/line-client.mjs" --port "$port" --bind "$src" --until '* OK' \
    --send "a1 LOGIN $id pass" --until 'a1 ' --send 'a2 SELECT INBOX' --until 'a2 ' \
    --send 'a3 LOGOUT' --until 'a3 '
}
drv_imap_silent_from() {  # id listener source-address: read the greeting, LOGOUT without authenticating
  local id=$1 port src=$3; port=$(port_of "$2")
  CMD="node line-client: from $src, read the greeting, a1 LOGOUT (no authentication attempt)"
  node "$LIB_DIR/line-client.mjs" --port "$port" --bind "$src" --until '* OK' --send 'a1 LOGOUT' --until 'a1 '
}
drv_imap_raw_drop() {  # STARTTLS, read OK, close without handshake
  local id=$1 port line; port=$(port_of "$2")
  CMD="bash /dev/tcp: a1 STARTTLS, read OK, close"
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  read -r -t 5 line <&3; echo "S: $line"
  printf 'a1 STARTTLS\r\n' >&3; echo "C: a1 STARTTLS"
  read -r -t 5 line <&3; echo "S: $line"
  exec 3>&- 3<&-; echo "C: <close>"
}

# ------------------------------------------------------------ sessions ----
log_size() { stat -c %s "$MAINLOG" 2>/dev/null || echo 0; }
wait_quiet() {  # queue empty and log unchanged for ~0.6s (max 30s)
  local last cur stable=0 i
  last=$(log_size)
  for i in $(seq 1 150); do
    sleep 0.2; cur=$(log_size)
    if [[ "$cur" == "$last" ]] && ! queue_busy; then
      stable=$((stable + 1)); ((stable >= 3)) && return 0
    else stable=0; fi
    last=$cur
  done
  log "warning: log/queue did not settle within 30s"
}

RECORDS="$WORKDIR/sessions.tsv"
N_SESSIONS=0
session() {  # id expect driver args...
  local id=$1 expect=$2 driver=$3; shift 3
  local out="$WORKDIR/client/$id.txt" start end rc t0 t1
  declare -F "drv_$driver" >/dev/null || die "session $id: unknown driver '$driver'"
  mkdir -p "$WORKDIR/client"
  wait_quiet
  start=$(log_size); t0=$(date +%s%N); CMD=""
  set +e; "drv_$driver" "$id" "$@" > "$out" 2>&1; rc=$?; set -e
  wait_quiet
  end=$(log_size); t1=$(date +%s%N)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$expect" "$driver" "$*" "$rc" \
    "$start" "$end" "$(( (t1 - t0) / 1000000 ))" "$CMD" >> "$RECORDS"
  N_SESSIONS=$((N_SESSIONS + 1))
  log "session $id ($driver $*) rc=$rc"
}

# Writes truth.json to stdout; exit 1 if any session did not behave as planned.
write_truth() {
  local extra=${EXTRA_TRUTH:-'{}'}
  MTA="$MTA" MAILLOG="$MAINLOG" CLIENTDIR="$WORKDIR/client" RECORDS="$RECORDS" \
  LISTENERS="$(for l in $LISTENERS; do printf '%s=%s ' "$l" "$(port_of "$l")"; done)" \
  CLASSIFIER="$CLASSIFIER" EXTRA_TRUTH="$extra" perl -MJSON::PP -e '
    use strict; use warnings;
    my %E = %ENV;
    our (@IN, @OUT, %S);
    sub IN { push @IN, @_ } sub OUT { push @OUT, @_ }
    my $classify = eval "sub { $E{CLASSIFIER} ; return }";
    die "bad CLASSIFIER: $@" if $@;
    open(my $lf, "<", $E{MAILLOG}) or die "$E{MAILLOG}: $!"; my $log = do { local $/; <$lf> }; close $lf;
    my %ports = map { split /=/ } split " ", $E{LISTENERS};
    my (@sessions, $fail);
    my %counts = map { $_ => { sessions => 0, tls => 0, plaintext => 0, tls_failed => 0,
                               starttls_abandoned => 0, trusted => 0, no_command => 0,
                               by_protocol => {}, by_cipher => {},
                               by_protocol_cipher => {}, by_log_protocol_cipher => {} } } qw(in out);
    open(my $rf, "<", $E{RECORDS}) or die;
    while (my $r = <$rf>) {
      chomp $r;
      my ($id, $expect, $driver, $args, $rc, $start, $end, $ms, $cmd) = split /\t/, $r, 9;
      my @lines = grep { length } split /\n/, substr($log, $start, $end - $start);
      my (@events, %want);
      for my $e (split /,/, $expect) {
        my ($std, $logf) = split /~/, $e;
        my ($dir, $outcome, $proto, $cipher) = split /:/, $std;
        my %ev = (direction => $dir, outcome => $outcome);
        my $c = $counts{$dir}; $c->{sessions}++; $c->{$outcome}++;
        if ($outcome eq "tls") {
          my ($lp, $lc) = defined $logf ? split(/:/, $logf) : ($proto, $cipher);
          @ev{qw(protocol cipher log_protocol log_cipher)} = ($proto, $cipher, $lp, $lc);
          $c->{by_protocol}{$proto}++; $c->{by_cipher}{$cipher}++;
          $c->{by_protocol_cipher}{"$proto $cipher"}++; $c->{by_log_protocol_cipher}{"$lp $lc"}++;
          push @{$want{$dir}}, "tls:$lp:$lc";
        } else { push @{$want{$dir}}, $outcome }
        push @events, \%ev;
      }
      my $ct = "";
      if (open(my $f, "<", "$E{CLIENTDIR}/$id.txt")) { local $/; $ct = <$f> // ""; close $f; }
      my %client = (exit_code => $rc + 0);
      if ($ct =~ /^Protocol version: (\S+)\s*\nCiphersuite: (\S+)/m) { @client{qw(protocol cipher)} = ($1, $2) }
      elsif ($ct =~ /=== TLS started with cipher ([^:]+):([^:]+):(\d+)/) { @client{qw(protocol cipher bits)} = ($1, $2, $3 + 0) }
      $client{tls} = defined $client{protocol} ? JSON::PP::true : JSON::PP::false;
      @IN = (); @OUT = (); %S = ();
      for (@lines) { $classify->() }
      $classify->() for ("__END_OF_SESSION__");
      my %got = (in => [@IN], out => [@OUT]);
      my @problems;
      for my $d (qw(in out)) {
        my $w = join(" ", sort @{$want{$d} // []}); my $g = join(" ", sort @{$got{$d}});
        push @problems, "$d: expected [$w] got [$g]" if $w ne $g;
      }
      my $first = $events[0];
      if ($driver =~ /sclient|swaks/ && $first->{direction} eq "in") {
        if ($first->{outcome} eq "tls") {
          push @problems, "client saw " . ($client{protocol} // "no TLS") . " " . ($client{cipher} // "")
            unless ($client{protocol} // "") eq $first->{protocol} && ($client{cipher} // "") eq $first->{cipher};
        } elsif ($client{tls}) { push @problems, "client unexpectedly negotiated TLS" }
      }
      $fail++ if @problems;
      my ($listener) = split / /, $args;
      push @sessions, {
        id => $id, driver => $driver, args => $args, command => $cmd,
        listener => $listener, port => ($ports{$listener} // 0) + 0,
        expected_events => \@events, client_observed => \%client,
        elapsed_ms => $ms + 0, log_lines => \@lines,
        check => @problems ? { ok => JSON::PP::false, problems => \@problems } : { ok => JSON::PP::true },
      };
      printf STDERR "  %-4s %-5s %s\n", $id, (@problems ? "FAIL" : "ok"), join("; ", @problems);
    }
    my $truth = {
      mta => $E{MTA}, listeners => { map { $_ => $ports{$_} + 0 } keys %ports },
      year => (localtime)[5] + 1900,
      event_model => "each session produces one or more connection events; direction in = accepted by the server, out = made by the MTA as a client; outcome tls | plaintext | tls_failed | starttls_abandoned | trusted | no_command. protocol/cipher use OpenSSL names; log_protocol/log_cipher are spelled as this MTA logs them",
      counts => \%counts, sessions => \@sessions,
      %{ JSON::PP->new->decode($E{EXTRA_TRUTH}) },
    };
    print JSON::PP->new->pretty->canonical->encode($truth);
    exit($fail ? 1 : 0);
  '
}
