// Exchange protocol logs name the negotiated algorithms, not the suite ("… bulk encryption algorithm CALG_AES_128
// with strength 128 bits, MAC hash algorithm CALG_SHA_256 with strength 0 bits and key exchange algorithm
// CALG_ECDH_EPHEM …"). This maps those CALG_* names back to candidate CSV rows, per ../shared/data/README.md §4.

import { PROTOCOLS, type Protocol } from '../model/types.js';
import { BoundedCache } from './bounded-cache.js';
import { sortWorstFirst } from './rating.js';
import { CIPHER_SUITES, type CipherSuite, type MinProtocol } from './suites.generated.js';

/** .NET prints an enum value it has no name for as a bare number (§4), so each name also matches its value. */
function byNameAndValue<T>(entries: readonly (readonly [string, number, T])[]): ReadonlyMap<string, T> {
  const map = new Map<string, T>();
  for (const [name, value, target] of entries) {
    map.set(name, target);
    map.set(String(value), target);
    map.set(`0x${value.toString(16).toUpperCase()}`, target);
  }
  return map;
}

interface Bulk {
  /** AES is CBC or GCM; the MAC strength decides (§4.2). */
  readonly encs: readonly string[];
  /** null: take the logged strength (RC4, DES and RC2 come in export sizes). */
  readonly encBits: number | null;
}

/** wincrypt.h ALG_ID values (§4.2); only the ciphers TLS suites use. */
const BULK = byNameAndValue<Bulk>([
  ['CALG_AES_128', 0x660e, { encs: ['AES_CBC', 'AES_GCM'], encBits: 128 }],
  ['CALG_AES_256', 0x6610, { encs: ['AES_CBC', 'AES_GCM'], encBits: 256 }],
  ['CALG_3DES', 0x6603, { encs: ['3DES_EDE_CBC'], encBits: 168 }],
  ['CALG_DES', 0x6601, { encs: ['DES_CBC'], encBits: null }],
  ['CALG_RC4', 0x6801, { encs: ['RC4'], encBits: null }],
  ['CALG_RC2', 0x6602, { encs: ['RC2_CBC'], encBits: null }],
  ['CALG_NULLCIPHER', 0x6000, { encs: ['NULL'], encBits: 0 }],
]);

/** HMAC hash → CSV `mac`, and the PRF hash suffix of the IANA name when the suite is AEAD. */
const HASH = byNameAndValue<{ readonly mac: string; readonly prf: string | null }>([
  ['CALG_MD5', 0x8003, { mac: 'MD5', prf: null }],
  ['CALG_SHA1', 0x8004, { mac: 'SHA1', prf: null }],
  ['CALG_SHA', 0x8004, { mac: 'SHA1', prf: null }],
  ['CALG_SHA_256', 0x800c, { mac: 'SHA256', prf: '_SHA256' }],
  ['CALG_SHA_384', 0x800d, { mac: 'SHA384', prf: '_SHA384' }],
]);

/** Key exchange → CSV `kx`. Exchange prints CALG_ECDHE for some builds, CALG_ECDH_EPHEM for others (§7). */
const KEY_EXCHANGE = byNameAndValue<string>([
  ['CALG_RSA_KEYX', 0xa400, 'RSA'],
  ['CALG_DH_EPHEM', 0xaa02, 'DHE'],
  ['CALG_DH_SF', 0xaa01, 'DH'],
  ['CALG_ECDH_EPHEM', 0xae06, 'ECDHE'],
  ['CALG_ECDHE', 0xae06, 'ECDHE'],
  ['CALG_ECDH', 0xaa05, 'ECDH'],
]);

/** Schannel suites authenticate with a certificate; which kind is not logged, so all three stay open (§4.3). */
const CERTIFICATE_AUTH: readonly string[] = ['RSA', 'ECDSA', 'DSS'];

const PROTOCOL_ORDER: readonly Protocol[] = ['SSLv2', 'SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

function allowedOn(min: MinProtocol, protocol: Protocol): boolean {
  if (min === 'TLSv1.3') return false; // TLS 1.3 suites are handled separately (kx ANY)
  if (protocol === 'unknown') return true;
  return PROTOCOL_ORDER.indexOf(min) <= PROTOCOL_ORDER.indexOf(protocol);
}

function computeCandidates(
  protocol: Protocol,
  bulkName: string,
  bulkBits: number,
  hashName: string,
  hashBits: number,
  kxName: string,
): CipherSuite[] {
  const bulk = BULK.get(bulkName.trim().toUpperCase());
  const hash = HASH.get(hashName.trim().toUpperCase());
  const kx = KEY_EXCHANGE.get(kxName.trim().toUpperCase());
  if (bulk === undefined || hash === undefined || kx === undefined || protocol === 'SSLv2') return [];

  const encBits = bulk.encBits ?? bulkBits;
  // Schannel reports the PRF hash with strength 0 for GCM suites (§4.2, inferred from real logs, §7). Only AES
  // has an AEAD mode in Schannel's suite list, so the rule is applied to AES alone.
  const aead = hashBits === 0 && bulk.encs.includes('AES_GCM');
  const enc = aead ? 'AES_GCM' : (bulk.encs[0] ?? '');
  const matchesMac = (s: CipherSuite): boolean =>
    aead ? s.mac === 'AEAD' && hash.prf !== null && (s.iana?.endsWith(hash.prf) ?? false) : s.mac === hash.mac;

  if (protocol === 'TLSv1.3') {
    // TLS 1.3 suites name no key exchange (kx ANY); it must still have been an ephemeral one.
    if (kx !== 'ECDHE' && kx !== 'DHE') return [];
    return CIPHER_SUITES.filter((s) => s.kx === 'ANY' && s.enc === enc && s.encBits === encBits && matchesMac(s));
  }
  return sortWorstFirst(
    CIPHER_SUITES.filter(
      (s) =>
        s.kx === kx &&
        CERTIFICATE_AUTH.includes(s.auth) &&
        s.enc === enc &&
        s.encBits === encBits &&
        matchesMac(s) &&
        allowedOn(s.minProtocol, protocol),
    ),
  );
}

const cache = new BoundedCache<string, readonly CipherSuite[]>(1024);

/**
 * Candidate rows for one Exchange "negotiation succeeded" line (data/README.md §4.3), worst rating first, so
 * `[0]` is the one to report when the certificate type is not known from elsewhere. Empty when a name is not
 * mapped (an unknown CALG_* or number) or nothing fits. `protocol` is the normalised SP_PROT_* value.
 */
export function schannelCandidates(
  protocol: Protocol,
  bulk: string,
  bulkBits: number,
  hash: string,
  hashBits: number,
  kx: string,
): CipherSuite[] {
  if (typeof bulk !== 'string' || typeof hash !== 'string' || typeof kx !== 'string') return [];
  if (!PROTOCOLS.includes(protocol)) return [];
  if (bulk.length > 64 || hash.length > 64 || kx.length > 64) return [];
  const key = `${protocol}|${bulk}|${bulkBits}|${hash}|${hashBits}|${kx}`;
  const cached = cache.get(key) ?? cache.set(key, computeCandidates(protocol, bulk, bulkBits, hash, hashBits, kx));
  return [...cached];
}
