// Postfix (log-formats.md §2). Programs: `<syslog_name>/<daemon>` — `postfix/smtpd`,
// `postfix/submission/smtpd`, `postfix-out/smtp` … — where smtpd is inbound, smtp/lmtp outbound, tlsproxy
// inbound TLS for postscreen. Every format below cites its source in vdukhovni/postfix:
//   handshake  tls_misc.c tls_log_summary(): `<Trust> TLS connection established from|to <namaddr>[ to <sni>]:
//              <proto> with cipher <cipher> (<use>/<alg> bits)[ key-exchange …]`; no trust word before 2.5
//   failures   tls_server.c/tls_client.c: `SSL_accept error from <namaddr>: <x>`, `SSL_connect error to …`;
//              tls_misc.c tls_print_errors(): `warning: TLS library problem: [<pid>:]<ERR_error_string>:…`
//   sessions   smtpd.c: `connect from`, `disconnect from <namaddr>[ <cmd>=<ok>[/<total>] … commands=…]`
//              (counters since 3.0), `[NOQUEUE: |<QID>: ]lost connection after STARTTLS from …` (prefix 3.10+)
//   messages   smtpd.c `<QID>: client=<namaddr>`; smtp/lmtp `<QID>: to=<…>, relay=<namaddr>, … status=…`
//   outbound   smtp_proto.c: `Cannot start TLS: handshake failure`, `TLS is required, but was not offered by host …`

import { normaliseProtocol } from '../ciphers/lookup.js';
import type { Direction, Envelope, Observation, Peer } from '../model/types.js';
import {
  type Dialect,
  HOLDS,
  type Interpreter,
  isAlnumByte,
  MALFORMED,
  messageHolds,
  NO_EVENT,
  UNSURE,
} from './dialect.js';
import {
  connectObs,
  deliveryObs,
  disconnectObs,
  failureDetailObs,
  failureObs,
  handshakeObs,
  messageObs,
  starttlsLostObs,
} from './observations.js';
import { classifyTlsError } from './tls-error-reason.js';

const HANDSHAKE =
  /^(?:(Anonymous|Untrusted|Trusted|Verified) )?TLS connection (established|reused) (from|to) (\S*?\[[^[\]\s]*\](?::\d+)?)(?: to \S+)?: (\S+) with cipher (\S+)(?: \((\d+\/\d+) bits\))?/;
const SSL_ERROR = /^SSL_(accept|connect) error (?:from|to) (\S*?\[[^[\]\s]*\](?::\d+)?): ?(.*)$/;
const LIBRARY_PROBLEM = /^warning: TLS library problem: (?:\d+:)?(.*)$/;
const QID_PREFIX = /^(?:NOQUEUE|[0-9A-Za-z]{5,20}): /;

/** Length of a `<QID>: ` or `NOQUEUE: ` prefix, or 0 (read in place: no copy of the message per line). */
function qidPrefixLength(msg: string): number {
  return QID_PREFIX.exec(msg)?.[0].length ?? 0;
}
/** What the last successful readCounter read: `<ok>`, and `<total>` (`<ok>` when the counter has no `/`). */
export let counterOk = 0;
export let counterTotal = 0;

/**
 * A disconnect line's counter ` <name>=<ok>[/<total>]` (smtpd.c, Postfix 3.0+): the first `name` followed by a
 * digit, read into counterOk and counterTotal without a match object, as `/ name=(\d+)(?:\/(\d+))?/` reads it
 * (a property test holds the two together). False when the line has none.
 */
export function readCounter(msg: string, name: string): boolean {
  for (let at = msg.indexOf(name); at >= 0; at = msg.indexOf(name, at + 1)) {
    const start = at + name.length;
    const end = digitsEnd(msg, start);
    if (end === start) continue;
    counterOk = digitsValue(msg, start, end);
    const totalEnd = msg.charCodeAt(end) === 47 /* / */ ? digitsEnd(msg, end + 1) : end + 1;
    counterTotal = totalEnd > end + 1 ? digitsValue(msg, end + 1, totalEnd) : counterOk;
    return true;
  }
  return false;
}

function digitsEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
  return i;
}

/** The value of the digits text[start, end), as Number() reads them (by hand while that is exact). */
function digitsValue(text: string, start: number, end: number): number {
  if (end - start > 15) return Number(text.slice(start, end));
  let n = 0;
  for (let i = start; i < end; i++) n = n * 10 + (text.charCodeAt(i) - 48);
  return n;
}

const CLIENT = /^([0-9A-Za-z]{5,20}): client=(\S*?\[[^[\]\s]*\])/;
const DELIVERY =
  /^([0-9A-Za-z]{5,20}): to=<[^>]*>,(?: orig_to=<[^>]*>,)? relay=([^\s,]*), .*? status=(\w+)(?: \((.*)\))?$/;
const IP_LIKE = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*|[#*x.]+)$/;

/** What JavaScript's `\s` matches (ECMA-262 WhiteSpace and LineTerminator). */
function isSpace(c: number): boolean {
  return c <= 32
    ? c === 32 || (c >= 9 && c <= 13)
    : c >= 0xa0 &&
        (c === 0xa0 ||
          c === 0x1680 ||
          (c >= 0x2000 && c <= 0x200a) ||
          c === 0x2028 ||
          c === 0x2029 ||
          c === 0x202f ||
          c === 0x205f ||
          c === 0x3000 ||
          c === 0xfeff);
}

/**
 * `host[ip]`, `host[ip]:port`, `[ip]:port` → Peer. `unknown`, an empty name and a name that is the address
 * itself (the smtp client's `127.0.0.1[127.0.0.1]` for a `[ip]` next hop) are not verified names.
 *
 * What `/^(\S*?)\[([^[\]\s]*)\](?::(\d+))?/` matches (a test holds the two together), scanned by hand: this runs
 * for most Postfix lines. The address is the first bracketed part that holds no bracket: a (hostile or odd)
 * name may itself contain `[`.
 */
export function parseNamaddr(text: string): (Peer & { port: number | null }) | null {
  const close = scanNamaddr(text, 0);
  if (close < 0) return null;
  const peer = peerOf(text, 0, close);
  let port: number | null = null;
  if (text.charCodeAt(close + 1) === 58 /* : */) {
    let end = close + 2;
    while (end < text.length && text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) end++;
    if (end > close + 2) port = Number(text.slice(close + 2, end));
  }
  return { host: peer.host, ip: peer.ip, port };
}

/** parseNamaddr's peer of text[from…], without the port: no substring and no second object per line. */
function parsePeer(text: string, from: number): Peer | null {
  const close = scanNamaddr(text, from);
  return close < 0 ? null : peerOf(text, from, close);
}

/** Where the `[` of the namaddr at text[from…] was found by the last successful scanNamaddr. */
let namaddrOpen = 0;

/** The index of the namaddr's `]` (its `[` in namaddrOpen), or -1 when text[from…] does not start with one. */
function scanNamaddr(text: string, from: number): number {
  const n = text.length;
  for (let open = from; open < n; open++) {
    const c = text.charCodeAt(open);
    if (isSpace(c)) return -1;
    if (c !== 91 /* [ */) continue;
    let close = open + 1;
    for (; close < n; close++) {
      const a = text.charCodeAt(close);
      if (a === 91 || a === 93 || isSpace(a)) break;
    }
    if (close >= n || text.charCodeAt(close) !== 93 /* ] */) continue;
    namaddrOpen = open;
    return close;
  }
  return -1;
}

function peerOf(text: string, from: number, close: number): Peer {
  const host = text.slice(from, namaddrOpen);
  const ip = text.slice(namaddrOpen + 1, close);
  return { host: host === '' || host === 'unknown' || host === ip ? null : host, ip };
}

const programs = new Map<string, { service: string; daemon: string }>();

/** Service and daemon of a program tag, remembered: per line, the same few tags (bounded: log text). */
function describeProgram(program: string): { service: string; daemon: string } {
  let d = programs.get(program);
  if (d === undefined) {
    const slash = program.indexOf('/');
    const service = slash < 0 ? program : program.slice(slash + 1);
    const daemon = program.slice(program.lastIndexOf('/') + 1);
    d = { service, daemon };
    if (programs.size < 1024) programs.set(program, d);
  }
  return d;
}

// Per daemon, what each interpret* below looks for (`lost connection after STARTTLS` contains `TLS`).
const SMTPD_KEYWORDS = ['TLS', 'SSL_', 'connect from', 'client='];
const SMTP_KEYWORDS = ['TLS', 'SSL_', 'status='];
const TLSPROXY_KEYWORDS = ['CONNECT', 'TLS', 'SSL_'];

/** How most smtpd messages start; each holds a keyword (`connect from`, `TLS`). */
const SMTPD_STARTS = [
  'connect from ',
  'disconnect from ',
  'Anonymous TLS connection ',
  'Untrusted TLS connection ',
  'Trusted TLS connection ',
  'Verified TLS connection ',
  'TLS connection ',
].map((s) => Buffer.from(s, 'latin1'));
const CLIENT_AFTER_QID = Buffer.from(': client=', 'latin1');
const holdsStatus = messageHolds('status=');

function startsWithBytes(buf: Buffer, at: number, end: number, prefix: Buffer): boolean {
  if (end - at < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[at + i] !== prefix[i]) return false;
  return true;
}

/** The smtpd lines that are most of a log (connect, disconnect, handshake, `<QID>: client=`), by their bytes. */
function smtpdKeywordTest(buf: Buffer, start: number, end: number): number {
  const first = buf[start];
  for (const p of SMTPD_STARTS) if (p[0] === first && startsWithBytes(buf, start, end, p)) return HOLDS;
  let i = start;
  const stop = Math.min(end, start + 20);
  while (i < stop && isAlnumByte(buf[i]!)) i++;
  return i - start >= 5 && startsWithBytes(buf, i, end, CLIENT_AFTER_QID) ? HOLDS : UNSURE;
}

/**
 * Deliveries (`status=`) are most smtp and lmtp lines. Those to no network peer (`relay=none`, LMTP over a unix
 * socket such as `relay=mx[private/dovecot-lmtp]`: one line per recipient on a server that delivers to Dovecot,
 * one line in fourteen of genlog's logs) are `NO_EVENT`: interpretSmtp would return null for them.
 */
function smtpKeywordTest(buf: Buffer, start: number, end: number): number {
  // First: a local delivery is NO_EVENT with or without `status=`, and finding that out reads less of it.
  if (isLocalDelivery(buf, start, end)) return NO_EVENT;
  return holdsStatus(buf, start, end) ? HOLDS : UNSURE;
}

const TO_AFTER_QID = Buffer.from(': to=<', 'latin1');
const ORIG_TO = Buffer.from(' orig_to=<', 'latin1');
const RELAY = Buffer.from(' relay=', 'latin1');
const holdsHandshake = messageHolds('TLS connection ');

/** Where `byte` first is in buf[from, end), or -1 (never past the line, unlike Buffer#indexOf). */
function byteAt(buf: Buffer, byte: number, from: number, end: number): number {
  for (let i = from; i < end; i++) if (buf[i] === byte) return i;
  return -1;
}

// What isLocalDelivery needs to know of a byte, one table lookup instead of a chain of comparisons.
const B_OTHER = 0;
/** Ends the relay (`[^\s,]`): `,` or ASCII white space. */
const B_STOP = 1;
const B_OPEN = 2;
const B_CLOSE = 3;
/** Not ASCII: the relay is left to the interpreter (JavaScript's `\s` holds some such characters). */
const B_HIGH = 4;
/** May be in an address IP_LIKE accepts (digits, hex letters, `:`, `.`, `#`, `*`, `x`): any other byte makes it a
 * socket path or a name. */
const B_ADDRESS = 5;
const BYTE_CLASS = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  if (c >= 0x80) BYTE_CLASS[c] = B_HIGH;
  else if (c === 44 || c === 32 || (c >= 9 && c <= 13)) BYTE_CLASS[c] = B_STOP;
  else if (c === 91) BYTE_CLASS[c] = B_OPEN;
  else if (c === 93) BYTE_CLASS[c] = B_CLOSE;
  else if (
    (c >= 48 && c <= 58) ||
    (c >= 65 && c <= 70) ||
    (c >= 97 && c <= 102) ||
    c === 46 ||
    c === 35 ||
    c === 42 ||
    c === 120
  ) {
    BYTE_CLASS[c] = B_ADDRESS;
  }
}

/**
 * True only when interpretSmtp surely makes nothing of the message: `<QID>: to=<…>,[ orig_to=<…>,] relay=R, …`
 * (so no `SSL_connect error`, `TLS library problem` or `Cannot start TLS` start), no `TLS connection ` in it,
 * and R is `none` or alike (no `[`: parseNamaddr finds no peer) or `name[addr]` with an addr IP_LIKE rejects.
 * Either DELIVERY matches with that relay, or it does not match: null both ways. Anything else: false.
 */
function isLocalDelivery(buf: Buffer, start: number, end: number): boolean {
  let i = start;
  const qidEnd = Math.min(end, start + 21);
  while (i < qidEnd && isAlnumByte(buf[i]!)) i++;
  if (i - start < 5 || i - start > 20 || !startsWithBytes(buf, i, end, TO_AFTER_QID)) return false;
  i = byteAt(buf, 62 /* > */, i + TO_AFTER_QID.length, end);
  if (i < 0 || i + 1 >= end || buf[i + 1] !== 44 /* , */) return false;
  i += 2;
  if (startsWithBytes(buf, i, end, ORIG_TO)) {
    i = byteAt(buf, 62, i + ORIG_TO.length, end);
    if (i < 0 || i + 1 >= end || buf[i + 1] !== 44) return false;
    i += 2;
  }
  if (!startsWithBytes(buf, i, end, RELAY)) return false;
  // R: up to `,` or white space. A `[`, then up to the first `]`: the address; it must hold a byte no address has.
  let open = -1;
  let socket = false;
  for (let j = i + RELAY.length; j < end; j++) {
    const c = BYTE_CLASS[buf[j]!]!;
    if (c === B_ADDRESS || c === B_OTHER) {
      if (open >= 0 && c === B_OTHER) socket = true;
    } else if (c === B_STOP) break;
    else if (c === B_OPEN) {
      if (open >= 0) return false;
      open = j;
    } else if (c === B_CLOSE) {
      if (open < 0) return false; // a `]` before the `[`: leave it to the interpreter
      if (!socket) return false;
      break; // the address ends at the first `]` (parseNamaddr)
    } else return false; // B_HIGH
  }
  // No `[`: no peer. A `[` never closed: parseNamaddr finds none either, but leave that odd case alone.
  if (open >= 0 && !socket) return false;
  return !holdsHandshake(buf, start, end);
}

export const postfix: Dialect = {
  id: 'postfix',
  name: 'Postfix',
  claims: (program) => program.startsWith('postfix'),
  keywords: ['TLS', 'SSL_', 'connect from', 'CONNECT', 'client=', 'status=', 'lost connection after STARTTLS'],
  keywordsFor(program) {
    const { daemon } = describeProgram(program);
    if (daemon === 'smtpd') return SMTPD_KEYWORDS;
    if (daemon === 'smtp' || daemon === 'lmtp') return SMTP_KEYWORDS;
    if (daemon === 'tlsproxy') return TLSPROXY_KEYWORDS;
    return []; // postscreen, qmgr, cleanup, …: interpretPostfix reads none of their lines
  },
  keywordTestFor(program) {
    const { daemon } = describeProgram(program);
    if (daemon === 'smtpd') return smtpdKeywordTest;
    if (daemon === 'smtp' || daemon === 'lmtp') return smtpKeywordTest;
    return null;
  },
  stateless: true,
  createInterpreter(): Interpreter {
    return interpretPostfix;
  },
};

function interpretPostfix(env: Envelope): Observation[] | null | typeof MALFORMED {
  const { service, daemon } = describeProgram(env.program);
  if (daemon === 'smtpd') return interpretSmtpd(env, service);
  if (daemon === 'smtp' || daemon === 'lmtp') return interpretSmtp(env, service);
  if (daemon === 'tlsproxy') return interpretTlsproxy(env, service);
  return null;
}

// Observations list the base fields one by one: an object spread (`{ ...b, kind }`) costs over a microsecond
// in Node 20, more than the rest of the line's interpretation.
function base(env: Envelope, service: string, direction: Direction, key: string) {
  return { mta: 'postfix', service, direction, key, timeMs: env.timeMs };
}

/** `host|program|pid` keys, remembered by program, host and pid (bounded: log text). */
const processKeys = new Map<string, Map<string | null, Map<number, string>>>();

/**
 * The correlation key of a Postfix process: one smtpd serves one client at a time. Remembered, so that each
 * line of a process hands the correlator the same string, hashed once, instead of building and hashing a new
 * one (program and host strings are themselves cached by the envelope, so their lookups hash nothing).
 */
function processKey(env: Envelope): string {
  const pid = env.pid;
  if (pid === null) return `${env.host ?? ''}|${env.program}|`;
  let byHost = processKeys.get(env.program);
  if (byHost === undefined) {
    if (processKeys.size >= 256) processKeys.clear();
    byHost = new Map();
    processKeys.set(env.program, byHost);
  }
  let byPid = byHost.get(env.host);
  if (byPid === undefined) {
    if (byHost.size >= 256) byHost.clear();
    byPid = new Map();
    byHost.set(env.host, byPid);
  }
  let key = byPid.get(pid);
  if (key === undefined) {
    if (byPid.size >= 1 << 16) byPid.clear();
    key = `${env.host ?? ''}|${env.program}|${pid}`;
    byPid.set(pid, key);
  }
  return key;
}

function handshakeOf(m: RegExpExecArray, b: ReturnType<typeof base>): Observation[] | typeof MALFORMED {
  // `reused` (smtp over a TLS connection cached in tlsproxy, smtp_session.c; log-formats.md §2.1): no new handshake,
  // but the session is TLS with that cipher, and its deliveries were counted as plaintext when it was ignored.
  const peer = parsePeer(m[4]!, 0);
  if (!peer) return MALFORMED;
  return [handshakeObs(b, peer, normaliseProtocol(m[5]!), m[6]!, m[7] ?? null, m[1] ?? null)];
}

function interpretSmtpd(env: Envelope, service: string): Observation[] | null | typeof MALFORMED {
  const msg = env.message;
  const b = base(env, service, 'inbound', processKey(env));
  if (msg.startsWith('connect from ')) {
    const peer = parsePeer(msg, 13);
    return peer ? [connectObs(b, peer)] : MALFORMED;
  }
  if (msg.startsWith('disconnect from ')) {
    const peer = parsePeer(msg, 16);
    if (!peer) return MALFORMED;
    let state: 'ok' | 'failed' | 'absent' | 'unknown' = 'unknown';
    const commands = readCounter(msg, ' commands=') ? counterTotal : null;
    if (readCounter(msg, ' starttls=')) state = counterOk > 0 ? 'ok' : counterTotal > 0 ? 'failed' : 'absent';
    else if (commands !== null) state = 'absent';
    return [disconnectObs(b, peer, state, commands)];
  }
  if (msg.includes('TLS connection ')) {
    const m = HANDSHAKE.exec(msg);
    return m ? handshakeOf(m, b) : msg.startsWith('setting up TLS') ? [] : MALFORMED;
  }
  if (msg.startsWith('SSL_accept error')) return sslError(msg, b);
  if (msg.startsWith('warning: TLS library problem')) return libraryProblem(msg, b);
  const at = qidPrefixLength(msg);
  if (msg.startsWith('lost connection after STARTTLS from ', at)) {
    return [starttlsLostObs(b, parsePeer(msg, at + 36))];
  }
  const client = CLIENT.exec(msg);
  if (client) {
    return [messageObs(b, parsePeer(client[2]!, 0), client[1]!)];
  }
  return null;
}

function sslError(msg: string, b: ReturnType<typeof base>): Observation[] | typeof MALFORMED {
  const m = SSL_ERROR.exec(msg);
  if (!m) return MALFORMED;
  const detail = m[3] ?? '';
  // `-1`/`0`: OpenSSL queued errors that follow as `TLS library problem` lines and refine the reason.
  const reason = /^-?\d+$/.test(detail) ? 'other' : classifyTlsError(detail);
  return [failureObs(b, parsePeer(m[2]!, 0), reason, detail)];
}

function libraryProblem(msg: string, b: ReturnType<typeof base>): Observation[] | typeof MALFORMED {
  const m = LIBRARY_PROBLEM.exec(msg);
  if (!m) return MALFORMED;
  const detail = m[1]!;
  return [failureDetailObs(b, classifyTlsError(detail), detail)];
}

function interpretSmtp(env: Envelope, service: string): Observation[] | null | typeof MALFORMED {
  const msg = env.message;
  const b = base(env, service, 'outbound', processKey(env));
  if (msg.includes('TLS connection ')) {
    const m = HANDSHAKE.exec(msg);
    return m ? handshakeOf(m, b) : msg.startsWith('setting up TLS') ? [] : MALFORMED;
  }
  if (msg.startsWith('SSL_connect error')) return sslError(msg, b);
  if (msg.startsWith('warning: TLS library problem')) return libraryProblem(msg, b);
  const at = qidPrefixLength(msg);
  if (msg.startsWith('Cannot start TLS', at)) {
    const body = msg.slice(at);
    return [failureObs(b, null, 'other', body)];
  }
  if (!msg.includes('status=')) return null;
  const d = DELIVERY.exec(msg);
  if (!d) return null;
  const relay = parseNamaddr(d[2]!);
  // relay=none, local transports, and LMTP over a unix socket (`host[private/dovecot-lmtp]`) are not
  // network connections: no TLS to count.
  if (!relay || !IP_LIKE.test(relay.ip)) return null;
  const text = d[4] ?? '';
  const peer = { host: relay.host, ip: relay.ip };
  if (/^TLS is required, but was not offered/.test(text)) {
    return [failureObs(b, peer, 'not-offered', text)];
  }
  if (/^TLS is required, but host .* refused to start TLS/.test(text)) {
    return [failureObs(b, peer, classifyTlsError(text), text)];
  }
  if (/^Cannot start TLS/.test(text)) return [failureObs(b, peer, 'other', text)];
  // The connection never got as far as SMTP: no session to count.
  if (/^connect to /.test(text)) return null;
  return [deliveryObs(b, peer, d[1]!, d[3]!)];
}

/** Ports that servers listen on: a tlsproxy connection to one of them is outbound (smtp's connection reuse). */
const SERVER_PORTS = new Set([25, 465, 587]);

function interpretTlsproxy(env: Envelope, service: string): Observation[] | null | typeof MALFORMED {
  const msg = env.message;
  // tlsproxy serves many connections at once: the client's address:port tells them apart.
  if (msg.startsWith('CONNECT from ') || msg.startsWith('DISCONNECT ')) {
    const at = msg.startsWith('CONNECT') ? 13 : 11;
    const peer = parseNamaddr(msg.slice(at));
    if (!peer) return MALFORMED;
    // tlsproxy also makes smtp's reused TLS connections (`CONNECT to [ip]:25`, log-formats.md §2.2), and logs their
    // end alike: `DISCONNECT [ip]:25`, a server's port. Such a session is its handshake's or its failure's, and
    // ends as smtp's do, which have no disconnect line; taken as inbound, it was a client that sent no command.
    if (at === 11 && peer.port !== null && SERVER_PORTS.has(peer.port)) return null;
    const b = base(env, service, 'inbound', `${processKey(env)}|${peer.ip}|${peer.port ?? ''}`);
    const p = { host: null, ip: peer.ip };
    return msg.startsWith('CONNECT') ? [connectObs(b, p)] : [disconnectObs(b, p, 'unknown', 0)];
  }
  const hs = HANDSHAKE.exec(msg);
  if (hs) {
    const peer = parseNamaddr(hs[4]!);
    if (!peer) return MALFORMED;
    const direction: Direction = hs[3] === 'to' ? 'outbound' : 'inbound';
    return handshakeOf(hs, base(env, service, direction, `${processKey(env)}|${peer.ip}|${peer.port ?? ''}`));
  }
  if (msg.startsWith('SSL_accept error') || msg.startsWith('SSL_connect error')) {
    const m = SSL_ERROR.exec(msg);
    const peer = m ? parseNamaddr(m[2]!) : null;
    if (!peer) return MALFORMED;
    const direction: Direction = m![1] === 'connect' ? 'outbound' : 'inbound';
    return sslError(msg, base(env, service, direction, `${processKey(env)}|${peer.ip}|${peer.port ?? ''}`));
  }
  // The reason, on a line of its own after the error: keyed by the process alone (it names no client), it refines
  // the failure of that process's connection that still waits for one (Correlator, `failure-detail`).
  if (msg.startsWith('warning: TLS library problem'))
    return libraryProblem(msg, base(env, service, 'inbound', processKey(env)));
  if (msg.includes('TLS connection ')) return MALFORMED;
  return null;
}
