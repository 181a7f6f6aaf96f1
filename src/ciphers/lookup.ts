// From a cipher as logged to a CSV row and a rating. The public face of src/ciphers/: dialects and reducers
// import from here. Spellings accepted: ../shared/data/README.md §3 (OpenSSL, GnuTLS, IANA) and §6 (aliases).

import { PROTOCOLS, type Protocol, type Rating } from '../model/types.js';
import { CIPHER_ALIASES } from './aliases.js';
import { BoundedCache } from './bounded-cache.js';
import { suiteFromGnutlsDescription } from './gnutls-description.js';
import { rateProtocol } from './protocol.js';
import { worseRating } from './rating.js';
import { CIPHER_SUITES, type CipherSuite } from './suites.generated.js';

export { CIPHER_ALIASES, type CipherAlias } from './aliases.js';
export { isLegacyProtocol, normaliseProtocol, rateProtocol } from './protocol.js';
export { worseRating } from './rating.js';
export { schannelCandidates } from './schannel.js';
export {
  CIPHER_SUITES,
  type CipherSuite,
  type MinProtocol,
  type MozillaProfile,
  type SuiteRating,
} from './suites.generated.js';

/** Longer than any real suite name or GnuTLS description (those are cut at 63 bytes); such text is not cached. */
const MAX_NAME_LENGTH = 120;

function addName(names: Map<string, CipherSuite>, name: string, suite: CipherSuite): void {
  // First spelling wins; the test suite checks that no two rows share a spelling.
  if (!names.has(name)) names.set(name, suite);
  const upper = name.toUpperCase(); // IANA's `DH_anon`, for the case-insensitive retry
  if (!names.has(upper)) names.set(upper, suite);
}

function buildNameMap(): Map<string, CipherSuite> {
  const names = new Map<string, CipherSuite>();
  const byCode = new Map(CIPHER_SUITES.map((s) => [s.code, s]));
  for (const s of CIPHER_SUITES) if (s.openssl !== null) addName(names, s.openssl, s);
  for (const s of CIPHER_SUITES) if (s.iana !== null) addName(names, s.iana, s);
  for (const s of CIPHER_SUITES) {
    if (s.gnutls === null) continue;
    // Exim logs the bare name; `gnutls-cli -l` prefixes `TLS_`; the C macro is `GNUTLS_…` (§1, gnutls_name).
    addName(names, s.gnutls, s);
    addName(names, `TLS_${s.gnutls}`, s);
    addName(names, `GNUTLS_${s.gnutls}`, s);
  }
  // Java and other SSLv3-era tools spell IANA names with `SSL_` (§3.3).
  for (const s of CIPHER_SUITES) if (s.iana?.startsWith('TLS_')) addName(names, `SSL_${s.iana.slice(4)}`, s);
  for (const a of CIPHER_ALIASES) {
    const suite = byCode.get(a.code);
    if (suite === undefined) continue;
    addName(names, a.alias, suite);
    if (a.library === 'gnutls') {
      addName(names, `TLS_${a.alias}`, suite);
      addName(names, `GNUTLS_${a.alias}`, suite);
    }
  }
  return names;
}

let nameMap: Map<string, CipherSuite> | undefined;
/** Built on first use, once: ~2,000 spellings of 365 rows. */
function names(): Map<string, CipherSuite> {
  nameMap ??= buildNameMap();
  return nameMap;
}

/** Spellings that missed the name map, parsed once: keyed by `2`/`3` (TLS ≤ 1.2 or 1.3) + the logged text. */
const parsed = new BoundedCache<string, CipherSuite | null>(4096);

function parseSpelling(logged: string, tls13: boolean): CipherSuite | null {
  const upper = logged.trim().toUpperCase();
  const named = names().get(upper);
  if (named !== undefined) return named;
  return upper.includes('__') ? suiteFromGnutlsDescription(upper, tls13) : null;
}

/**
 * The CSV row for a cipher as logged, knowing the negotiated protocol. The protocol matters only for Exim's
 * GnuTLS session descriptions, where TLS 1.3 lines name the key exchange and signature but not the suite
 * (`ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_256_GCM` is TLS_AES_256_GCM_SHA384 on TLS 1.3,
 * ECDHE-RSA-AES256-GCM-SHA384 on TLS 1.2). Exact names are one Map hit. Never throws; null when unknown.
 */
export function lookupCipherFor(protocol: Protocol, logged: string): CipherSuite | null {
  if (typeof logged !== 'string') return null;
  const exact = names().get(logged);
  if (exact !== undefined) return exact;
  if (logged.length === 0 || logged.length > MAX_NAME_LENGTH) return null;
  const tls13 = protocol === 'TLSv1.3';
  const key = (tls13 ? '3' : '2') + logged;
  const cached = parsed.get(key);
  return cached !== undefined ? cached : parsed.set(key, parseSpelling(logged, tls13));
}

/**
 * The CSV row for a cipher as logged (OpenSSL, IANA incl. `SSL_`, GnuTLS incl. `TLS_`/`GNUTLS_`, the §6 aliases,
 * Exim's GnuTLS descriptions read as TLS ≤ 1.2). Case-insensitive. Use lookupCipherFor when the protocol is known.
 */
export function lookupCipher(logged: string): CipherSuite | null {
  return lookupCipherFor('unknown', logged);
}

export interface HandshakeRating {
  readonly suite: CipherSuite | null;
  readonly iana: string | null;
  readonly openssl: string | null;
  /** The suite's rating from the table, `unknown` when the name did not resolve. */
  readonly cipherRating: Rating;
  readonly protocolRating: Rating;
  /** The worse of the two; see rateHandshake for the unknown-cipher case. */
  readonly rating: Rating;
}

function computeRating(protocol: Protocol, logged: string): HandshakeRating {
  const suite = lookupCipherFor(protocol, logged);
  const cipherRating: Rating = suite?.rating ?? 'unknown';
  const protocolRating = rateProtocol(protocol);
  // TLS 1.2/1.3 rate `recommended` only to mean "no penalty"; that must not turn an unresolved cipher into a
  // recommended handshake. A penalising protocol (SSL, TLS 1.0/1.1) still rates the handshake on its own.
  const rating =
    suite !== null
      ? worseRating(cipherRating, protocolRating)
      : protocolRating === 'insecure' || protocolRating === 'weak'
        ? protocolRating
        : 'unknown';
  return Object.freeze({
    suite,
    iana: suite?.iana ?? null,
    openssl: suite?.openssl ?? null,
    cipherRating,
    protocolRating,
    rating,
  });
}

const ratings = new Map<Protocol, BoundedCache<string, HandshakeRating>>();

/**
 * Everything a report needs about one handshake, memoised per (protocol, cipher) because dialects call it once
 * per handshake. The returned object is frozen and shared between calls.
 */
export function rateHandshake(protocol: Protocol, logged: string): HandshakeRating {
  // Neither key may grow the caches without bound: odd protocols and over-long text are computed, not kept.
  if (!PROTOCOLS.includes(protocol) || typeof logged !== 'string' || logged.length > MAX_NAME_LENGTH) {
    return computeRating(PROTOCOLS.includes(protocol) ? protocol : 'unknown', logged);
  }
  let byCipher = ratings.get(protocol);
  if (byCipher === undefined) {
    byCipher = new BoundedCache(2048);
    ratings.set(protocol, byCipher);
  }
  return byCipher.get(logged) ?? byCipher.set(logged, computeRating(protocol, logged));
}
