// Dovecot login processes (log-formats.md §6): imap-login, pop3-login, submission-login, managesieve-login.
// One login-process line ends each client connection, so each such line is one connection (keyed by its
// `session=<…>` or, without one, by its position). The line is `login_log_format` = `%$: %s` (2.2/2.3) or
// `%{message}: %{elements}` (2.4), where the elements (dovecot/core src/login-common/login-settings.c) default to
// `user=<%u> method=%m rip=%r lip=%l mpid=%e %c session=<%{session}>`; empty ones are dropped and the rest joined
// with `, `. `%c` / `%{secured}` (src/login-common/client-common.c) reads:
//   `TLS`                       handshake completed (`TLS: <last SSL error>` when the connection then broke);
//   `TLS handshaking[: <err>]`  the handshake did not complete: a failure;
//   `secured`                   no TLS, but a trusted connection (loopback or login_trusted_networks);
//   (absent)                    plaintext.
// `%k` / `%{ssl_security}` (src/lib-ssl-iostream/iostream-openssl.c) adds `<proto> with cipher <name> (<a>/<b> bits)`;
// it is not in the default format, so a default Dovecot logs `TLS` with no protocol or cipher.
// Envelopes: syslog `dovecot: imap-login: …` / `dovecot[pid]: imap-login: …` (program `dovecot`), or Dovecot's
// own log_path file `imap-login: Info: …` (program `imap-login`). The peer is `rip=`; Dovecot logs no names.
// Services: imap, pop3 and managesieve are mailbox services (reported apart from SMTP); submission-login is
// Dovecot's SMTP submission proxy, reported as inbound SMTP service `submission`. LMTP and the post-login
// processes (`imap(user)<pid><session>: …`) log nothing about TLS and are not counted.

import { normaliseProtocol } from '../ciphers/lookup.js';
import type { Envelope, FailureReason, Observation, Peer } from '../model/types.js';
import { type Dialect, HOLDS, HOLDS_NONE, type Interpreter, MALFORMED, messageHolds } from './dialect.js';
import { disconnectObs, failureObs, handshakeObs } from './observations.js';
import { classifyTlsError } from './tls-error-reason.js';

const LOGIN_PROCESS = /^([a-z][a-z0-9]*)-login$/;
const holdsRip = messageHolds('rip=');
const ripKeywordTest = (buf: Buffer, start: number, end: number) => (holdsRip(buf, start, end) ? HOLDS : HOLDS_NONE);

/**
 * `<process>-login: ` at the start of a syslog message: where its `-` is, or -1. What
 * `/^([a-z][a-z0-9]*)-login: /` finds, without a match object per line (a property test holds the two together).
 */
export function loginPrefixEnd(text: string): number {
  const first = text.charCodeAt(0);
  if (!(first >= 97 && first <= 122)) return -1;
  let i = 1;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57))) break;
  }
  return text.startsWith(LOGIN_SUFFIX, i) ? i : -1;
}
const LOGIN_SUFFIX = '-login: ';

const LEVEL = /^(?:Info|Warning|Error|Fatal|Panic|Debug): /;
/** What an element Dovecot writes before `%c` starts with. */
const FIRST_ELEMENTS = ['user=<', 'method=', 'rip=', 'lip=', 'mpid=', 'lport=', 'rport=', 'session=<'];

/**
 * Where the elements begin: the first `: ` followed by an element Dovecot writes before `%c` (up to its end: a
 * `, ` or the end of the line), or -1. What `/: (?=(?:user=<|method=|…|session=<)[^,]*(?:, |$))/` finds, without
 * a match object per line (a property test holds the two together).
 */
export function elementsStart(text: string): number {
  // The first `,` at or after the element, remembered from one candidate to the next (text.length: none), so
  // that a hostile line of many candidates and one late comma is read once, not once per candidate (the regular
  // expression took 0.6 s for such a 60 KB line).
  let comma = -1;
  for (let i = text.indexOf(': '); i >= 0; i = text.indexOf(': ', i + 1)) {
    const p = i + 2;
    if (!FIRST_ELEMENTS.some((e) => text.startsWith(e, p))) continue;
    if (comma < p) {
      comma = text.indexOf(',', p);
      if (comma < 0) comma = text.length;
    }
    if (comma === text.length || text.charCodeAt(comma + 1) === 32) return i;
  }
  return -1;
}
const SSL_SECURITY = /^(\S+) with cipher (\S+) \((\d+\/\d+) bits\)/;
const POST_LOGIN = /^(?:imap|pop3|lmtp|submission|managesieve|doveadm)\(/;

const NOT_LOGGED = '(not logged)';
/** `%k` when a haproxy in front terminated TLS (client-common.c): Dovecot never saw the handshake. */
const PROXIED = '(proxied)';
const NO_SSL_SECURITY_NOTE =
  'Dovecot logged TLS without protocol and cipher: add %k (2.4: %{ssl_security}) to login_log_format_elements';

const PROXIED_NOTE = 'TLS was terminated by a proxy in front of Dovecot (haproxy): protocol and cipher are not known';

export const dovecot: Dialect = {
  id: 'dovecot',
  name: 'Dovecot',
  claims: (program) => program === 'dovecot' || LOGIN_PROCESS.test(program) || POST_LOGIN.test(program),
  keywords: ['rip='],
  // Its one keyword, looked for in the message alone (dialect.ts, messageHolds).
  keywordTestFor: () => ripKeywordTest,
  stateless: true,
  createInterpreter(): Interpreter {
    return interpretDovecot;
  },
};

function interpretDovecot(env: Envelope): Observation[] | null | typeof MALFORMED {
  let text = env.message;
  let process: string;
  if (env.program === 'dovecot') {
    // Syslog: `dovecot: imap-login: …` (the common case: no regular expression for it).
    const dash = loginPrefixEnd(text);
    if (dash < 0) return null;
    process = text.slice(0, dash);
    text = text.slice(dash + LOGIN_SUFFIX.length);
  } else {
    // Dovecot's own log file: the program is `imap-login`.
    const login = LOGIN_PROCESS.exec(env.program);
    if (login === null) return null;
    process = login[1]!;
  }
  text = text.replace(LEVEL, '');
  const start = elementsStart(text);
  if (start < 0) return text.includes('rip=') ? MALFORMED : null;
  const message = text.slice(0, start);
  // A proxy (director, proxy=y) logs its connection twice: `proxy(user): started proxying to host:port` when the
  // login succeeded, and `proxy(user): disconnecting <ip> (<reason>)` when the proxied connection ends, with the
  // same elements (dovecot/core login-proxy.c; only a detached proxy, i.e. one that started, logs it). The first
  // counts the connection; the second is its end, already counted (a review: each proxied connection was two).
  if (message.startsWith('proxy(') && message.includes('): disconnecting ')) return null;
  const login = parseElements(text, start + 2);
  if (login.rip === null) return text.includes('rip=') ? MALFORMED : null;
  const service = process === 'submission' ? 'submission' : process;
  // Without a session id the key needs no number: every line ends its own connection (each return below ends
  // with a disconnect), so no two lines' observations are ever open at once under it. No counter also means no
  // state: any line can be interpreted on its own (`stateless`).
  const key = `dovecot|${env.host ?? ''}|${service}|${login.session ?? '#'}`;
  // Fields one by one, never `{ ...b }`: an object spread costs over a microsecond in Node 20.
  const b = { mta: 'dovecot', service, direction: 'inbound' as const, key, timeMs: env.timeMs };
  const peer: Peer = { host: null, ip: login.rip, nameLogged: false };
  const succeeded = /^Login\b/.test(message);

  if (login.tls === 'handshaking') {
    const failure = handshakeFailure(login.tlsError, message);
    return [failureObs(b, peer, failure.reason, failure.detail), disconnectObs(b, peer, 'failed', null)];
  }
  if (login.tls === 'done') {
    const security = login.security === null ? null : SSL_SECURITY.exec(login.security);
    const h: Observation = security
      ? handshakeObs(b, peer, normaliseProtocol(security[1]!), security[2]!, security[3]!, null)
      : {
          mta: b.mta,
          service: b.service,
          direction: b.direction,
          key: b.key,
          timeMs: b.timeMs,
          kind: 'handshake',
          peer,
          protocol: 'unknown',
          cipher: login.security === PROXIED ? PROXIED : NOT_LOGGED,
          bits: null,
          trust: null,
          note: login.security === PROXIED ? PROXIED_NOTE : NO_SSL_SECURITY_NOTE,
        };
    return [h, disconnectObs(b, peer, 'ok', null)];
  }
  if (login.secured)
    return [
      {
        mta: b.mta,
        service: b.service,
        direction: b.direction,
        key: b.key,
        timeMs: b.timeMs,
        kind: 'disconnect',
        peer,
        starttls: 'absent',
        commands: null,
        trusted: true,
      },
    ];
  // No TLS element. A login, or any authentication attempt, sent credentials in the clear: plaintext. A client
  // that disconnected without ever trying to authenticate exchanged nothing of value: no command, like a
  // Postfix `commands=0` scanner.
  const silent = !succeeded && /\(no auth attempts\b|\(disconnected before auth was ready\b/.test(message);
  const disconnect: Observation = disconnectObs(b, peer, 'absent', silent ? 0 : null);
  if (!silent) disconnect.plaintext = true;
  return [disconnect];
}

export interface LoginElements {
  rip: string | null;
  session: string | null;
  /** `done` = `TLS` or `TLS: <err>`; `handshaking` = `TLS handshaking[: <err>]`. */
  tls: 'done' | 'handshaking' | null;
  tlsError: string | null;
  secured: boolean;
  /** The `%k` element, when logged. */
  security: string | null;
}

/**
 * The elements of `text` from `from` on, as `text.slice(from).split(', ')` would give them, read in place: a
 * login line has seven or so, and cutting each into a string of its own was most of the cost of the line.
 * Every prefix tested holds no `, `, so a match never runs past its element. Exported for its property test
 * (test/unit/dovecot-elements.test.ts), which holds it to the split-and-compare reading it replaced.
 */
export function parseElements(text: string, from: number): LoginElements {
  const out: LoginElements = { rip: null, session: null, tls: null, tlsError: null, secured: false, security: null };
  // The next ` with cipher ` at or after the element (text.length: none), remembered: searched for again per
  // element, a hostile line of thousands of elements was read once per element.
  let cipherAt = -1;
  for (let p = from; ; ) {
    const comma = text.indexOf(', ', p);
    const end = comma < 0 ? text.length : comma;
    const length = end - p;
    if (text.startsWith('rip=', p)) out.rip = text.slice(p + 4, end);
    else if (text.startsWith('session=<', p)) {
      out.session = text.slice(p + 9, text.charCodeAt(end - 1) === 62 && end - 1 >= p + 9 ? end - 1 : end);
    } else if (length === 7 && text.startsWith('secured', p)) out.secured = true;
    else if ((length === 3 && text.startsWith('TLS', p)) || text.startsWith('TLS: ', p)) {
      out.tls = 'done';
      out.tlsError = length > 5 ? text.slice(p + 5, end) : null;
    } else if ((length === 15 && text.startsWith('TLS handshaking', p)) || text.startsWith('TLS handshaking: ', p)) {
      out.tls = 'handshaking';
      out.tlsError = length > 17 ? text.slice(p + 17, end) : null;
    } else if (length === PROXIED.length && text.startsWith(PROXIED, p)) out.security = PROXIED;
    else {
      // `<proto> with cipher <name> (<a>/<b> bits)`: only an element holding ` with cipher ` can be one.
      if (cipherAt < p) {
        cipherAt = text.indexOf(' with cipher ', p);
        if (cipherAt < 0) cipherAt = text.length;
      }
      if (cipherAt < end) {
        const e = text.slice(p, end);
        if (SSL_SECURITY.test(e)) out.security = e;
      }
    }
    if (comma < 0) return out;
    p = comma + 2;
  }
}

/**
 * Why `TLS handshaking` ended. Dovecot 2.3.19 with OpenSSL 3 logs a failed STARTTLS handshake only as
 * `SSL_accept() syscall failed: Invalid argument`, hiding the OpenSSL reason (realmta README §4), so that text is
 * `other`, not a lost connection. A bare `TLS handshaking`, `… : Connection closed` or `… : Disconnected` is a
 * client that hung up during (or before) the handshake.
 */
function handshakeFailure(error: string | null, message: string): { reason: FailureReason; detail: string } {
  const detail =
    error ??
    (/\((?:disconnected during TLS handshake|tls_handshake_not_finished)\)/.test(message)
      ? 'disconnected during TLS handshake'
      : 'TLS handshaking');
  if (error === null || /^(?:Connection closed|Disconnected)\b/.test(error))
    return { reason: 'lost-connection', detail };
  if (/syscall failed: Invalid argument/.test(error)) return { reason: 'other', detail };
  return { reason: classifyTlsError(error), detail };
}
