// Postfix TLS protocol lists (smtpd_tls_protocols, smtp_tls_mandatory_protocols, ...): which versions Postfix asks
// OpenSSL for, and which ones OpenSSL 3 can then really negotiate.
//
// Postfix 3.7 postfix/src/tls/tls_misc.c tls_proto_mask_lims(): the list is split on commas, whitespace and
// colons; `!name` excludes, `name` includes (when any name is included, every known protocol not included is
// excluded too), `>=version` sets a floor and `<=version` a ceiling (the 3.6+ syntax; version = SSLv3, TLSv1,
// TLSv1.1, TLSv1.2, TLSv1.3, None, or a hex protocol number like 0x0303). Names are compared case-insensitively
// (util/name_code.c without NAME_CODE_FLAG_STRICT_CASE). One unknown token makes the whole list invalid
// (TLS_PROTOCOL_INVALID): smtpd then logs "Invalid TLS protocol list ...: disabling TLS support" (tls_server.c)
// and offers no STARTTLS, the smtp client logs "...: aborting TLS session" (tls_client.c).
//
// OpenSSL side (1.1+): SSLv2 does not exist any more and SSLv3 is not compiled in by default (`no-ssl3`). A client
// offers one contiguous range: when an excluded version leaves a hole, ssl_get_min_max_version()
// (ssl/statem/statem_lib.c) keeps only the lowest contiguous block — `openssl s_client -no_tls1_1` against a
// TLS 1.0–1.3 server negotiates TLS 1.0. A server accepts each enabled version on its own.

import type { Protocol } from '../model/types.js';

export type TlsProtocol = Exclude<Protocol, 'unknown'>;

/** Postfix's TLS_KNOWN_PROTOCOLS, oldest first. */
export const TLS_PROTOCOLS: readonly TlsProtocol[] = ['SSLv2', 'SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

const BY_NAME: ReadonlyMap<string, TlsProtocol> = new Map(TLS_PROTOCOLS.map((p) => [p.toLowerCase(), p]));

/** tls_version_table[] plus the wire numbers accepted in hex. SSLv2 cannot be a floor or ceiling. */
const VERSION_NUMBERS: ReadonlyMap<number, TlsProtocol> = new Map([
  [0x300, 'SSLv3'],
  [0x301, 'TLSv1'],
  [0x302, 'TLSv1.1'],
  [0x303, 'TLSv1.2'],
  [0x304, 'TLSv1.3'],
]);

export interface ProtocolToken {
  readonly text: string;
  readonly kind: 'include' | 'exclude' | 'floor' | 'ceiling' | 'invalid';
}

export interface PostfixProtocols {
  /** The list as given. */
  readonly spec: string;
  /** False when Postfix rejects the list: then no TLS at all with this setting (see the file comment). */
  readonly valid: boolean;
  /** What Postfix asks OpenSSL for: every known version not excluded and within floor/ceiling. Empty if invalid. */
  readonly enabled: ReadonlySet<TlsProtocol>;
  readonly included: readonly TlsProtocol[];
  readonly excluded: readonly TlsProtocol[];
  readonly floor: TlsProtocol | null;
  readonly ceiling: TlsProtocol | null;
  readonly tokens: readonly ProtocolToken[];
  readonly warnings: string[];
}

function parseVersion(text: string): { version: TlsProtocol | null } | { invalid: true } | { unknownNumber: number } {
  if (text.toLowerCase() === 'none') return { version: null };
  const named = BY_NAME.get(text.toLowerCase());
  if (named && named !== 'SSLv2') return { version: named };
  // strtoul(tok, &end, 16) must consume the whole token (an empty token is 0: no limit).
  if (!/^(0[xX])?[0-9A-Fa-f]*$/.test(text)) return { invalid: true };
  const digits = text.replace(/^0[xX]/, '');
  const number = digits.length === 0 ? 0 : Number.parseInt(digits, 16);
  if (number > 0x7fffffff) return { invalid: true };
  if (number === 0) return { version: null };
  const known = VERSION_NUMBERS.get(number);
  return known ? { version: known } : { unknownNumber: number };
}

function rank(protocol: TlsProtocol): number {
  return TLS_PROTOCOLS.indexOf(protocol);
}

/** Evaluates a Postfix protocol list as tls_proto_mask_lims() does. Never throws. */
export function evaluatePostfixProtocols(spec: string): PostfixProtocols {
  const include = new Set<TlsProtocol>();
  const exclude = new Set<TlsProtocol>();
  const tokens: ProtocolToken[] = [];
  const warnings: string[] = [];
  let floor: TlsProtocol | null = null;
  let ceiling: TlsProtocol | null = null;
  let valid = true;

  for (const text of spec.split(/[,: \t\r\n]+/).filter((t) => t.length > 0)) {
    if (text.startsWith('>=') || text.startsWith('<=')) {
      const isFloor = text.startsWith('>=');
      const parsed = parseVersion(text.slice(2));
      if ('invalid' in parsed) {
        valid = false;
        tokens.push({ text, kind: 'invalid' });
        warnings.push(`"${text}": not a protocol version Postfix knows`);
        continue;
      }
      tokens.push({ text, kind: isFloor ? 'floor' : 'ceiling' });
      if ('unknownNumber' in parsed) {
        warnings.push(`"${text}": protocol number 0x${parsed.unknownNumber.toString(16)} is unknown to OpenSSL 3.0`);
        continue;
      }
      if (isFloor) floor = parsed.version;
      else ceiling = parsed.version;
      continue;
    }
    const negated = text.startsWith('!');
    const protocol = BY_NAME.get((negated ? text.slice(1) : text).toLowerCase());
    if (!protocol) {
      valid = false;
      tokens.push({ text, kind: 'invalid' });
      warnings.push(`"${text}": not a protocol name Postfix knows`);
      continue;
    }
    tokens.push({ text, kind: negated ? 'exclude' : 'include' });
    (negated ? exclude : include).add(protocol);
  }

  const enabled = new Set<TlsProtocol>();
  if (!valid) warnings.push('Postfix rejects the whole list (TLS_PROTOCOL_INVALID)');
  if (valid) {
    for (const protocol of TLS_PROTOCOLS) {
      if (exclude.has(protocol)) continue;
      if (include.size > 0 && !include.has(protocol)) continue;
      if (floor && rank(protocol) < rank(floor)) continue;
      if (ceiling && rank(protocol) > rank(ceiling)) continue;
      enabled.add(protocol);
    }
    if (enabled.size === 0) warnings.push(`"${spec}" leaves no protocol version enabled: every TLS handshake fails`);
  }
  return {
    spec,
    valid,
    enabled,
    included: TLS_PROTOCOLS.filter((p) => include.has(p)),
    excluded: TLS_PROTOCOLS.filter((p) => exclude.has(p)),
    floor,
    ceiling,
    tokens,
    warnings,
  };
}

/** OpenSSL 3.0 build facts that limit the versions beyond what Postfix asks for. */
export interface OpensslProtocolSupport {
  /** `enable-ssl3`: SSLv3 compiled in (off by default since OpenSSL 1.1.0, and in Debian/Ubuntu). */
  readonly sslv3: boolean;
}

export const OPENSSL_3_0_PROTOCOLS: OpensslProtocolSupport = { sslv3: false };

/**
 * The versions OpenSSL can negotiate in `role` given what Postfix enabled: SSLv2 never, SSLv3 only when compiled
 * in; a client keeps only the lowest contiguous block of enabled versions (protocol holes, see file comment). The
 * security level is applied separately (openssl-security-level.ts).
 */
export function negotiableProtocols(
  enabled: ReadonlySet<TlsProtocol>,
  role: 'server' | 'client',
  support: OpensslProtocolSupport = OPENSSL_3_0_PROTOCOLS,
): Set<TlsProtocol> {
  const available = TLS_PROTOCOLS.filter((p) => enabled.has(p) && p !== 'SSLv2' && (p !== 'SSLv3' || support.sslv3));
  if (role === 'server') return new Set(available);
  // ssl_get_min_max_version(): walk from the newest version down; after a gap, a lower enabled version starts a
  // new block that replaces the previous one.
  let block: TlsProtocol[] = [];
  let previous = -2;
  for (const protocol of [...available].reverse()) {
    const r = rank(protocol);
    if (r !== previous - 1) block = [];
    block.unshift(protocol);
    previous = r;
  }
  return new Set(block);
}
