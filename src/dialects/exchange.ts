// Microsoft Exchange 2013–2019 SMTP protocol logs (log-formats.md §7; data/README.md §4): CSV files
// `RECVyyyymmdd-n.LOG` (SMTP Receive, inbound) and `SENDyyyymmdd-n.LOG` (SMTP Send, outbound), written with
// `ProtocolLoggingLevel Verbose` on the connector. Each file holds one or more header blocks:
//   #Software: Microsoft Exchange Server / #Version / #Log-type: SMTP Receive|Send Protocol Log / #Date /
//   #Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context
// and records whose `event` is `+` connect, `-` disconnect, `>` sent, `<` received, `*` information
// [MicrosoftDocs/OfficeDocs-Exchange Exchange/ExchangeServer/mail-flow/connectors/protocol-logging.md].
// The envelope parser hands over `#…` lines as program `#header` and records as program `#csv` with the whole
// line as message; `#Fields:` and `#Log-type:` are kept per input (one interpreter per file).
//   success  `*` … `TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm
//            CALG_AES_128 with strength 128 bits, MAC hash algorithm CALG_SHA_256 with strength 0 bits and key
//            exchange algorithm CALG_ECDH_EPHEM with strength 256 bits` (`_SERVER` inbound, `_CLIENT` outbound)
//   failure  `*` … `TLS negotiation failed with error <SecurityStatus>` (NoCredentials, SocketError, …)
//   session  `+` … `-` keyed by `session-id`; no TLS event in between = plaintext (or nothing, if no command).
// Exchange names algorithms, not a suite: the suite is the lowest-rated candidate of schannelCandidates(), and
// the handshake's note says when several suites fit. Exchange logs no client host names (only EHLO), so peers
// carry `nameLogged: false`: unnamed, not "unknown clients".

import { normaliseProtocol, schannelCandidates } from '../ciphers/lookup.js';
import type { Direction, Envelope, FailureReason, HandshakeObservation, Observation, Peer } from '../model/types.js';
import { type Dialect, type Interpreter, MALFORMED } from './dialect.js';
import {
  connectObs,
  disconnectObs,
  failureObs,
  handshakeObs,
  messageObs,
  type ObservationHead,
} from './observations.js';
import { classifyTlsError } from './tls-error-reason.js';

/** The documented default column list, used until a `#Fields:` header is seen (log fragments without headers). */
const DEFAULT_FIELDS: readonly string[] = [
  'date-time',
  'connector-id',
  'session-id',
  'sequence-number',
  'local-endpoint',
  'remote-endpoint',
  'event',
  'data',
  'context',
];

/**
 * The program names the envelope parser gives header lines and CSV records (parse-envelope.ts HEADER_PROGRAM,
 * CSV_PROGRAM; repeated here because dialects do not import the envelope layer, DESIGN.md §2).
 */
export const HEADER_PROGRAM = '#header';
export const CSV_PROGRAM = '#csv';

const TLS_SUCCESS =
  /TLS protocol (\S+) negotiation succeeded using bulk encryption algorithm (\S+) with strength (\d+) bits, MAC hash algorithm (\S+) with strength (\d+) bits and key exchange algorithm (\S+) with strength (\d+) bits/;
const TLS_FAILED = /TLS negotiation failed with error (\S+)/;
const MAIL_FROM = /^MAIL FROM:/i;
/** Ports an SMTP client connects to: with no `#Log-type:`, a record whose remote end is one of them is outbound. */
const SMTP_PORTS = new Set([25, 465, 587, 2525]);
const MAX_REMEMBERED = 50_000;

/**
 * Schannel SecurityStatus names (System.Net SecurityStatusPalErrorCode) as Exchange prints them after
 * `TLS negotiation failed with error`; anything else goes through the shared OpenSSL/GnuTLS classifier.
 */
const SECURITY_STATUS: Readonly<Record<string, FailureReason>> = {
  SocketError: 'lost-connection',
  ConnectionReset: 'lost-connection',
  IncompleteMessage: 'lost-connection',
  ContextExpired: 'lost-connection',
  Timeout: 'timeout',
  TimedOut: 'timeout',
  AlgorithmMismatch: 'no-shared-cipher',
  UnsupportedFunction: 'unsupported-protocol',
  NoCredentials: 'certificate',
  UnknownCredentials: 'certificate',
  CertExpired: 'certificate',
  CertUnknown: 'certificate',
  UntrustedRoot: 'certificate',
  WrongPrincipal: 'certificate',
  CertificateRevoked: 'certificate',
  IllegalMessage: 'wrong-version-number',
  InvalidToken: 'wrong-version-number',
};

interface SessionState {
  direction: Direction;
  peer: Peer;
  /** Commands the client sent: `<` records inbound, `>` records outbound (Exchange is then the client). */
  commands: number;
}

interface FileState {
  fields: readonly string[];
  columns: Columns;
  /** From `#Log-type:`; null until seen. */
  direction: Direction | null;
  sessions: Map<string, SessionState>;
}

interface Columns {
  session: number;
  event: number;
  data: number;
  context: number;
  local: number;
  remote: number;
}

function columnsOf(fields: readonly string[]): Columns {
  const at = (name: string) => fields.indexOf(name);
  return {
    session: at('session-id'),
    event: at('event'),
    data: at('data'),
    context: at('context'),
    local: at('local-endpoint'),
    remote: at('remote-endpoint'),
  };
}

export const exchange: Dialect = {
  id: 'exchange',
  name: 'Microsoft Exchange',
  claims: (program) => program === CSV_PROGRAM || program === HEADER_PROGRAM,
  // Commands (`<`/`>`) decide plaintext vs. a silent connection, so nearly every record matters.
  keywords: ['#Fields:', '#Log-type:', ',+,', ',-,', ',<,', ',>,', ',*,'],
  createInterpreter(): Interpreter {
    const state: FileState = {
      fields: DEFAULT_FIELDS,
      columns: columnsOf(DEFAULT_FIELDS),
      direction: null,
      sessions: new Map(),
    };
    return (env) => interpretExchange(env, state);
  },
};

function interpretExchange(env: Envelope, state: FileState): Observation[] | null | typeof MALFORMED {
  if (env.program === HEADER_PROGRAM) {
    readHeader(env.message, state);
    return null;
  }
  if (env.program !== CSV_PROGRAM) return null;
  const cells = splitCsv(env.message);
  if (cells === null) return MALFORMED;
  const cell = (i: number) => (i >= 0 ? (cells[i] ?? '') : '');
  const { columns } = state;
  const sessionId = cell(columns.session);
  const event = cell(columns.event);
  if (sessionId === '' || event === '') return MALFORMED;
  const remote = endpoint(cell(columns.remote));
  if (remote === null) return MALFORMED;
  const local = endpoint(cell(columns.local));
  const text = `${cell(columns.data)} ${cell(columns.context)}`;
  const success = event === '*' ? TLS_SUCCESS.exec(text) : null;

  const known = state.sessions.get(sessionId);
  // SP_PROT_*_SERVER / _CLIENT says which side Exchange was on; otherwise the session's first record decides, from
  // the file's `#Log-type:` or, in a fragment without headers, from which end has an SMTP port.
  const direction: Direction =
    (success ? directionOfProtocol(success[1]!) : null) ??
    known?.direction ??
    state.direction ??
    (remote.port !== null && SMTP_PORTS.has(remote.port) && !(local?.port && SMTP_PORTS.has(local.port))
      ? 'outbound'
      : 'inbound');
  if (known) known.direction = direction;
  const peer: Peer = { host: null, ip: remote.ip, nameLogged: false };
  const key = `exchange|${sessionId}`;
  const b: ObservationHead = {
    mta: 'exchange',
    service: direction === 'inbound' ? 'smtp-receive' : 'smtp-send',
    direction,
    key,
    timeMs: env.timeMs,
  };
  const session = known ?? remember(state.sessions, sessionId, { direction, peer, commands: 0 });

  switch (event) {
    case '+':
      session.commands = 0;
      return [connectObs(b, peer)];
    case '-':
      state.sessions.delete(sessionId);
      return [disconnectObs(b, peer, 'unknown', known ? session.commands : null)];
    case '<':
    case '>': {
      const fromClient = (event === '<') === (direction === 'inbound');
      if (!fromClient) return [];
      session.commands++;
      return MAIL_FROM.test(cell(columns.data)) ? [messageObs(b, peer, null)] : [];
    }
    case '*': {
      if (success) return [handshakeOf(b, peer, success)];
      const failed = TLS_FAILED.exec(text);
      if (failed) {
        const status = failed[1]!;
        return [failureObs(b, peer, SECURITY_STATUS[status] ?? classifyTlsError(status), failed[0])];
      }
      return text.includes('TLS protocol ') && text.includes('negotiation succeeded') ? MALFORMED : [];
    }
    default:
      return MALFORMED;
  }
}

function handshakeOf(b: ObservationHead, peer: Peer, m: RegExpExecArray): HandshakeObservation {
  const [protoToken, bulk, bulkBits, hash, hashBits, kx, kxBits] = m.slice(1).map((x) => x ?? '');
  const protocol = normaliseProtocol(protoToken!);
  const candidates = schannelCandidates(protocol, bulk!, Number(bulkBits), hash!, Number(hashBits), kx!);
  const names = candidates.map((s) => s.iana ?? s.openssl ?? s.code);
  const h = handshakeObs(b, peer, protocol, `${bulk}/${hash}/${kx}`, `${bulkBits}/${hashBits}/${kxBits}`, null);
  h.iana = candidates[0]?.iana ?? null;
  if (names.length === 0) {
    h.note = `Exchange logs algorithms, not a suite: no cipher suite fits ${protoToken} ${bulk} (${bulkBits} bits), ${hash} (${hashBits} bits), ${kx}`;
  } else if (names.length > 1) {
    h.note = `Exchange logs algorithms, not a suite: ambiguous between ${names.join(', ')} (the certificate type is not logged); counted as the lowest-rated, ${names[0]}`;
  }
  return h;
}

function directionOfProtocol(token: string): Direction | null {
  if (token.endsWith('_SERVER')) return 'inbound';
  if (token.endsWith('_CLIENT')) return 'outbound';
  return null;
}

function readHeader(line: string, state: FileState): void {
  const body = line.replace(/^\uFEFF/, '');
  if (body.startsWith('#Fields:')) {
    const fields = body
      .slice(8)
      .split(',')
      .map((f) => f.trim().toLowerCase());
    if (fields.includes('session-id') && fields.includes('event')) {
      state.fields = fields;
      state.columns = columnsOf(fields);
    }
  } else if (body.startsWith('#Log-type:')) {
    const type = body.slice(10).trim();
    state.direction = /Receive/i.test(type) ? 'inbound' : /Send/i.test(type) ? 'outbound' : null;
  }
}

function remember(sessions: Map<string, SessionState>, id: string, s: SessionState): SessionState {
  sessions.set(id, s);
  if (sessions.size > MAX_REMEMBERED) {
    const oldest = sessions.keys().next();
    if (!oldest.done) sessions.delete(oldest.value);
  }
  return s;
}

/** `10.0.0.1:25`, `[2001:db8::1]:25`, `10.**.**.31:37964` (masked by whoever published the log). */
function endpoint(text: string): { ip: string; port: number | null } | null {
  const t = text.trim();
  if (t === '') return null;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (v6) return { ip: v6[1]!, port: v6[2] ? Number(v6[2]) : null };
  const colon = t.lastIndexOf(':');
  if (colon > 0 && t.indexOf(':') === colon && /^\d+$/.test(t.slice(colon + 1))) {
    return { ip: t.slice(0, colon), port: Number(t.slice(colon + 1)) };
  }
  return { ip: t, port: null };
}

/** One CSV record (RFC 4180 quoting: `"…"` with `""` for a quote). Null when a quote is left open. */
export function splitCsv(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  for (;;) {
    if (line.charCodeAt(i) === 34 /* " */) {
      let value = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return null;
        value += line.slice(i, q);
        if (line.charCodeAt(q + 1) === 34) {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      // Text after the closing quote up to the comma belongs to the field (lenient, as Excel reads it).
      const comma = line.indexOf(',', i);
      out.push(value + (comma < 0 ? line.slice(i) : line.slice(i, comma)));
      if (comma < 0) return out;
      i = comma + 1;
    } else {
      const comma = line.indexOf(',', i);
      if (comma < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, comma));
      i = comma + 1;
    }
    if (i > n) return out;
  }
}
