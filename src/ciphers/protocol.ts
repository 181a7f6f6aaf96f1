// Protocol spellings as the MTAs log them, normalised to the shared Protocol type (DESIGN.md §4), and the
// protocol half of a handshake's rating (data/README.md §2, "Protocol version is rated separately").

import type { Protocol, Rating } from '../model/types.js';

const SPELLINGS: Readonly<Record<Exclude<Protocol, 'unknown'>, readonly string[]>> = {
  // OpenSSL SSL_get_version() (Postfix, Sendmail, Dovecot, Exim+OpenSSL); GnuTLS gnutls_protocol_get_name()
  // (Exim+GnuTLS: `TLS1.2`, `SSL3.0`); Exim ≤ 4.77 turned very old GnuTLS's `TLS 1.0` into `TLS-1.0`
  // (data/README.md §3.2); Schannel SP_PROT_* names as Exchange prints them (§4.1).
  SSLv2: ['SSLv2', 'SSL2', 'SSL2.0', 'SSLv2.0', 'SP_PROT_SSL2_SERVER', 'SP_PROT_SSL2_CLIENT'],
  SSLv3: ['SSLv3', 'SSL3', 'SSL3.0', 'SSLv3.0', 'SSL-3.0', 'SSL 3.0', 'SP_PROT_SSL3_SERVER', 'SP_PROT_SSL3_CLIENT'],
  TLSv1: [
    'TLSv1',
    'TLSv1.0',
    'TLS1',
    'TLS1.0',
    'TLS-1.0',
    'TLS 1.0',
    'SP_PROT_TLS1_SERVER',
    'SP_PROT_TLS1_CLIENT',
    'SP_PROT_TLS1_0_SERVER',
    'SP_PROT_TLS1_0_CLIENT',
  ],
  'TLSv1.1': ['TLSv1.1', 'TLS1.1', 'TLS-1.1', 'TLS 1.1', 'SP_PROT_TLS1_1_SERVER', 'SP_PROT_TLS1_1_CLIENT'],
  'TLSv1.2': ['TLSv1.2', 'TLS1.2', 'TLS-1.2', 'TLS 1.2', 'SP_PROT_TLS1_2_SERVER', 'SP_PROT_TLS1_2_CLIENT'],
  'TLSv1.3': ['TLSv1.3', 'TLS1.3', 'TLS-1.3', 'TLS 1.3', 'SP_PROT_TLS1_3_SERVER', 'SP_PROT_TLS1_3_CLIENT'],
};

/** Keys are lower-case; the logged spelling is tried as-is first because that is what almost every line has. */
const BY_SPELLING: ReadonlyMap<string, Protocol> = new Map(
  Object.entries(SPELLINGS).flatMap(([protocol, names]) =>
    names.flatMap((name) => [
      [name, protocol as Protocol],
      [name.toLowerCase(), protocol as Protocol],
    ]),
  ),
);

/**
 * GnuTLS appends the certificate type for non-X.509 sessions (`TLS1.2-RAWPK`, lib/session.c
 * gnutls_session_get_desc), and Exim copies that into `X=`.
 */
const GNUTLS_WITH_CERT_TYPE = /^(tls1\.[0-3]|ssl3\.0)-[a-z0-9]+$/;

/**
 * Sendmail's `TLSv1/SSLv3` is OpenSSL 1.0's *cipher* class, not the negotiated version, so it is `unknown`
 * (DESIGN.md §4), like every spelling not listed above (`TLS1.x`, `DTLS1.2`, garbage). Case-insensitive.
 */
export function normaliseProtocol(raw: string): Protocol {
  if (typeof raw !== 'string') return 'unknown';
  const exact = BY_SPELLING.get(raw);
  if (exact !== undefined) return exact;
  if (raw.length > 32) return 'unknown';
  const lower = raw.trim().toLowerCase();
  const known = BY_SPELLING.get(lower);
  if (known !== undefined) return known;
  const withCertType = GNUTLS_WITH_CERT_TYPE.exec(lower);
  return withCertType?.[1] === undefined ? 'unknown' : (BY_SPELLING.get(withCertType[1]) ?? 'unknown');
}

/**
 * The protocol's own rating (data/README.md §2, own judgement based on RFC 7568 and RFC 8996): SSLv2/SSLv3 are
 * insecure, TLS 1.0/1.1 weak, TLS 1.2/1.3 carry no penalty and rate `recommended` so that the worse-of-two rule
 * leaves the suite's rating alone.
 */
export function rateProtocol(p: Protocol): Rating {
  switch (p) {
    case 'SSLv2':
    case 'SSLv3':
      return 'insecure';
    case 'TLSv1':
    case 'TLSv1.1':
      return 'weak';
    case 'TLSv1.2':
    case 'TLSv1.3':
      return 'recommended';
    default:
      return 'unknown';
  }
}

/** Deprecated protocols (RFC 6176, RFC 7568, RFC 8996); reports highlight these rows. */
export function isLegacyProtocol(p: Protocol): boolean {
  return p === 'SSLv2' || p === 'SSLv3' || p === 'TLSv1' || p === 'TLSv1.1';
}
