// Evaluates an OpenSSL cipher string ("HIGH:!aNULL", "EECDH+AESGCM:EDH+AESGCM", Postfix's tls_*_cipherlist) over
// the shared cipher table the way OpenSSL 3.0 does, so that the audit and the what-if can say which TLS ≤ 1.2 suites
// a configuration really enables, in which order, and which of its tokens do nothing.
//
// Reproduced from OpenSSL 3.0 `ssl/ssl_ciph.c` (ssl_create_cipher_list, ssl_cipher_process_rulestr,
// ssl_cipher_apply_rule, ssl_cipher_strength_sort, check_suiteb_cipher_list, the cipher_aliases[] table) and
// `ssl/s3_lib.c` (the ssl3_ciphers[] table: algorithm bits, algo_strength, strength_bits, table order):
//   - Separators are ':', ',', ' ' and ';'. An element is `[op]word[+word...]`; op is '!' (kill: removed for good),
//     '-' (delete: may be added again; deleted suites keep their relative order at the head of the inactive list),
//     '+' (move matching active suites to the end), '@' (STRENGTH sort or SECLEVEL=n), none (add at the end).
//   - Words are matched case-sensitively against the suite names and then the aliases. `a+b` is the AND of the
//     words. An unknown word makes OpenSSL skip the whole element silently; a character outside [A-Za-z0-9.=-]
//     where a word should start makes OpenSSL reject the whole string.
//   - `DEFAULT` is only special at the very start of the string ("ALL:!COMPLEMENTOFDEFAULT:!eNULL" in 3.0);
//     anywhere else it is an unknown word. `SUITEB128ONLY`, `SUITEB128C2`, `SUITEB128`, `SUITEB192` at the start
//     replace the whole string with the Suite B list.
//   - `@SECLEVEL=n` does not filter the list: OpenSSL records the level and applies it at handshake time (see
//     openssl-security-level.ts). `openssl ciphers -v` without `-s` prints the unfiltered list, as we return it.
//   - The resulting list must contain at least one TLS ≤ 1.2 suite, else SSL_CTX_set_cipher_list() fails with
//     "no cipher match" (ssl/ssl_lib.c); Postfix then cannot start TLS with this list.
//
// Which suites exist: OpenSSL ≥ 1.1 removed the export, single-DES, fixed-DH/ECDH, KRB5 and GOST94 suites. The table
// keeps their 1.0.2 names in `openssl` (data/README.md §1), so membership is decided from the data (see
// describeSuite): an IANA suite with an OpenSSL name, TLS ≤ 1.2, key exchange RSA/DHE/ECDHE/PSK/DHE_PSK/ECDHE_PSK/
// RSA_PSK/SRP and a cipher OpenSSL 3.0 implements, not an export variant. On top of that the build matters:
// 3DES and RC4 suites are compiled only with `enable-weak-ssl-ciphers` (off by default since 1.1.0), IDEA only
// without `no-idea` (Debian builds no-idea), and RC4/SEED/IDEA need the legacy provider at run time. GOST suites
// need an engine and are never modelled. The default build (OPENSSL_3_0_DEBIAN) is Debian 12's OpenSSL 3.0.

import { CIPHER_SUITES, type CipherSuite } from '../ciphers/suites.generated.js';

/** The OpenSSL build whose cipher list is evaluated. */
export interface OpensslBuild {
  /** `enable-weak-ssl-ciphers`: the 3DES and RC4 suites are compiled in (off by default since OpenSSL 1.1.0). */
  readonly weakSslCiphers: boolean;
  /** IDEA suites compiled in (upstream default; Debian configures `no-idea`). */
  readonly idea: boolean;
  /** The legacy provider is loaded (RC4, RC2, IDEA, SEED and single DES become usable). Off unless openssl.cnf loads it. */
  readonly legacyProvider: boolean;
}

/** Debian 12 / Ubuntu OpenSSL 3.0 with the stock openssl.cnf: what `openssl ciphers` shows on the CI machine. */
export const OPENSSL_3_0_DEBIAN: OpensslBuild = { weakSslCiphers: false, idea: false, legacyProvider: false };

export type CipherRuleOp = 'add' | 'delete' | 'kill' | 'order' | 'special';

/** What one element of the string did, for the audit ("malformed or ineffective cipher-list tokens"). */
export interface CipherStringElement {
  /** The element as written, operator included (`!aNULL`, `EECDH+AESGCM`, `@STRENGTH`). */
  readonly text: string;
  readonly op: CipherRuleOp;
  /**
   * `ok`: applied and matched at least one suite; `redundant`: it matches suites of this build, but those were
   * already removed for good by an earlier `!`; `no-match`: a known name that matches no suite of this build
   * (OpenSSL applies it, nothing happens); `unknown`: a word OpenSSL does not know or whose algorithms this build
   * lacks, the element is skipped; `contradictory`: the `+` parts can never match together, OpenSSL skips it;
   * `error`: OpenSSL rejects the whole string.
   */
  readonly status: 'ok' | 'redundant' | 'no-match' | 'unknown' | 'contradictory' | 'error';
  /** Suites the element selected (before its operator was applied), 0 for specials. */
  readonly matched: number;
}

export interface CipherStringResult {
  /** The TLS ≤ 1.2 cipher list in OpenSSL's preference order; empty when `error` is set. */
  readonly ciphers: CipherSuite[];
  /** Human-readable notes on tokens that OpenSSL ignores or that have no effect. */
  readonly warnings: string[];
  /** Set when OpenSSL would reject the string (SSL_CTX_set_cipher_list() fails): TLS cannot start with it. */
  readonly error: string | null;
  /** Level set by the last valid `@SECLEVEL=n`, else null (the library or openssl.cnf default applies). */
  readonly securityLevel: number | null;
  /** Suite B mode selected by a leading `SUITEB*` keyword (OpenSSL then also restricts curves and signatures). */
  readonly suiteB: 'SUITEB128' | 'SUITEB128ONLY' | 'SUITEB128C2' | 'SUITEB192' | null;
  readonly elements: CipherStringElement[];
}

export interface CipherStringOptions {
  readonly build?: OpensslBuild;
  /** The cipher table; the generated shared table by default (tests pass subsets). */
  readonly suites?: readonly CipherSuite[];
}

// ---------------------------------------------------------------------------------------------------------------
// Algorithm bits. The values are ours; only the set relations of ssl_local.h matter.

const K = { RSA: 1, DHE: 2, ECDHE: 4, PSK: 8, RSAPSK: 16, ECDHEPSK: 32, DHEPSK: 64, SRP: 128, GOST: 256, GOST18: 512 };
const K_PSK = K.PSK | K.ECDHEPSK | K.DHEPSK | K.RSAPSK;
const A = { RSA: 1, DSS: 2, NULL: 4, ECDSA: 8, PSK: 16, GOST01: 32, GOST12: 64, SRP: 128 };
const E = {
  DES: 1 << 0,
  TDES: 1 << 1,
  RC4: 1 << 2,
  RC2: 1 << 3,
  IDEA: 1 << 4,
  NULL: 1 << 5,
  AES128: 1 << 6,
  AES256: 1 << 7,
  CAMELLIA128: 1 << 8,
  CAMELLIA256: 1 << 9,
  GOST89: 1 << 10,
  SEED: 1 << 11,
  AES128GCM: 1 << 12,
  AES256GCM: 1 << 13,
  AES128CCM: 1 << 14,
  AES256CCM: 1 << 15,
  AES128CCM8: 1 << 16,
  AES256CCM8: 1 << 17,
  GOST8912: 1 << 18,
  CHACHA20POLY1305: 1 << 19,
  ARIA128GCM: 1 << 20,
  ARIA256GCM: 1 << 21,
  MAGMA: 1 << 22,
  KUZNYECHIK: 1 << 23,
};
const E_AESGCM = E.AES128GCM | E.AES256GCM;
const E_AESCCM = E.AES128CCM | E.AES256CCM | E.AES128CCM8 | E.AES256CCM8;
const E_AES = E.AES128 | E.AES256 | E_AESGCM | E_AESCCM;
const E_CAMELLIA = E.CAMELLIA128 | E.CAMELLIA256;
const E_ARIAGCM = E.ARIA128GCM | E.ARIA256GCM;
const E_CBC = E.DES | E.TDES | E.RC2 | E.IDEA | E.AES128 | E.AES256 | E.CAMELLIA128 | E.CAMELLIA256 | E.SEED;
const M = {
  MD5: 1,
  SHA1: 2,
  GOST94: 4,
  GOST89MAC: 8,
  SHA256: 16,
  SHA384: 32,
  AEAD: 64,
  GOST12_256: 128,
  GOST89MAC12: 256,
  GOST12_512: 512,
  MAGMAOMAC: 1024,
  KUZNYECHIKOMAC: 2048,
};
// algo_strength bits exactly as ssl_local.h groups them: FIPS belongs to the "strong" mask.
const S = { NONE: 0x01, LOW: 0x02, MEDIUM: 0x04, HIGH: 0x08, FIPS: 0x10, NOT_DEFAULT: 0x20 };
const STRONG_MASK = 0x1f;
const DEFAULT_MASK = 0x20;
const SSL3_VERSION = 0x300;
const TLS1_VERSION = 0x301;
const TLS1_2_VERSION = 0x303;

interface Algorithms {
  readonly mkey: number;
  readonly auth: number;
  readonly enc: number;
  readonly mac: number;
  readonly minTls: number;
  readonly strength: number;
}

interface OsslCipher extends Algorithms {
  readonly suite: CipherSuite;
  readonly name: string;
  readonly id: number;
  readonly strengthBits: number;
  /** Needs `enable-weak-ssl-ciphers` / IDEA compiled / the legacy provider. */
  readonly needs: { readonly weak: boolean; readonly idea: boolean; readonly legacy: boolean };
}

const KX_BITS: Readonly<Record<string, number>> = {
  RSA: K.RSA,
  DHE: K.DHE,
  ECDHE: K.ECDHE,
  PSK: K.PSK,
  DHE_PSK: K.DHEPSK,
  ECDHE_PSK: K.ECDHEPSK,
  RSA_PSK: K.RSAPSK,
  SRP: K.SRP,
};
const AUTH_BITS: Readonly<Record<string, number>> = {
  RSA: A.RSA,
  DSS: A.DSS,
  anon: A.NULL,
  ECDSA: A.ECDSA,
  PSK: A.PSK,
  SRP: A.SRP,
};
const MAC_BITS: Readonly<Record<string, number>> = {
  MD5: M.MD5,
  SHA1: M.SHA1,
  SHA256: M.SHA256,
  SHA384: M.SHA384,
  AEAD: M.AEAD,
};

function encBits(enc: string, bits: number): number | null {
  const pick = (b128: number, b256: number): number | null => (bits === 128 ? b128 : bits === 256 ? b256 : null);
  switch (enc) {
    case 'NULL':
      return E.NULL;
    case 'AES_CBC':
      return pick(E.AES128, E.AES256);
    case 'AES_GCM':
      return pick(E.AES128GCM, E.AES256GCM);
    case 'AES_CCM':
      return pick(E.AES128CCM, E.AES256CCM);
    case 'AES_CCM_8':
      return pick(E.AES128CCM8, E.AES256CCM8);
    case 'CAMELLIA_CBC':
      return pick(E.CAMELLIA128, E.CAMELLIA256);
    case 'ARIA_GCM':
      return pick(E.ARIA128GCM, E.ARIA256GCM);
    case 'CHACHA20_POLY1305':
      return E.CHACHA20POLY1305;
    case '3DES_EDE_CBC':
      return E.TDES;
    // Export RC4 (40/56 bits) was removed in OpenSSL 1.1.0; only RC4-128 suites remain.
    case 'RC4':
      return bits === 128 ? E.RC4 : null;
    case 'IDEA_CBC':
      return E.IDEA;
    case 'SEED_CBC':
      return E.SEED;
    default:
      // DES_CBC and RC2_CBC (export and single DES: removed in 1.1.0), GOST (engine), ARIA_CBC and
      // CAMELLIA_GCM (never implemented by OpenSSL) and the TLS 1.3-only ciphers.
      return null;
  }
}

function minTlsOf(protocol: CipherSuite['minProtocol']): number {
  return protocol === 'SSLv3' ? SSL3_VERSION : protocol === 'TLSv1' ? TLS1_VERSION : TLS1_2_VERSION;
}

/**
 * Maps a table row to OpenSSL 3.0's view of it (ssl3_ciphers[] in ssl/s3_lib.c), or null when OpenSSL ≥ 1.1 has no
 * such TLS ≤ 1.2 suite. The algo_strength flags follow s3_lib.c: 3DES, RC4, IDEA and SEED are MEDIUM, eNULL is
 * STRONG_NONE, everything else HIGH; NOT_DEFAULT marks DSS and anonymous authentication, CCM, ARIA, Camellia, 3DES,
 * RC4, IDEA and SEED (the 3.0 COMPLEMENTOFDEFAULT), never an eNULL suite (AECDH-NULL-SHA has none); FIPS marks AES-CBC/GCM (not CCM), 3DES and eNULL without MD5,
 * except SRP key exchange.
 */
function describeSuite(suite: CipherSuite): OsslCipher | null {
  if (suite.openssl === null || suite.iana === null || suite.minProtocol === 'TLSv1.3') return null;
  const mkey = KX_BITS[suite.kx];
  const auth = AUTH_BITS[suite.auth];
  const mac = MAC_BITS[suite.mac];
  const enc = encBits(suite.enc, suite.encBits);
  if (mkey === undefined || auth === undefined || mac === undefined || enc === null) return null;
  const medium = (E.TDES | E.RC4 | E.IDEA | E.SEED) & enc;
  let strength = enc === E.NULL ? S.NONE : medium ? S.MEDIUM : S.HIGH;
  const notDefault =
    enc !== E.NULL &&
    (auth & (A.DSS | A.NULL) || enc & (E_AESCCM | E_ARIAGCM | E_CAMELLIA | E.TDES | E.RC4 | E.IDEA | E.SEED));
  if (notDefault) strength |= S.NOT_DEFAULT;
  const fipsEnc = enc & (E.AES128 | E.AES256 | E_AESGCM | E.TDES) || (enc === E.NULL && mac !== M.MD5);
  if (fipsEnc && mkey !== K.SRP) strength |= S.FIPS;
  const [hi, lo] = suite.code.split(',').map((byte) => Number.parseInt(byte, 16));
  return {
    suite,
    name: suite.openssl,
    id: ((hi ?? 0) << 8) | (lo ?? 0),
    mkey,
    auth,
    enc,
    mac,
    minTls: minTlsOf(suite.minProtocol),
    strength,
    // s3_lib.c reports 3DES as 112 "strength bits" (alg_bits 168).
    strengthBits: enc === E.TDES ? 112 : suite.encBits,
    needs: {
      weak: (enc & (E.TDES | E.RC4)) !== 0,
      idea: enc === E.IDEA,
      legacy: (enc & (E.RC4 | E.IDEA | E.SEED)) !== 0,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Aliases: cipher_aliases[] of OpenSSL 3.0 ssl/ssl_ciph.c, in table order. `EXP`, `EXPORT`, `DES`, `kDH`, `kECDH`,
// `aECDH`, `aDH`, `KRB5`, `TLSv1.1` and friends are no aliases any more in 1.1+: OpenSSL ignores them.

interface Alias extends Algorithms {
  readonly name: string;
}

function alias(name: string, fields: Partial<Algorithms>): Alias {
  return { name, mkey: 0, auth: 0, enc: 0, mac: 0, minTls: 0, strength: 0, ...fields };
}

const ALIASES: readonly Alias[] = [
  alias('ALL', { enc: ~E.NULL }),
  alias('COMPLEMENTOFALL', { enc: E.NULL }),
  alias('COMPLEMENTOFDEFAULT', { strength: S.NOT_DEFAULT }),
  alias('kRSA', { mkey: K.RSA }),
  alias('kEDH', { mkey: K.DHE }),
  alias('kDHE', { mkey: K.DHE }),
  alias('DH', { mkey: K.DHE }),
  alias('kEECDH', { mkey: K.ECDHE }),
  alias('kECDHE', { mkey: K.ECDHE }),
  alias('ECDH', { mkey: K.ECDHE }),
  alias('kPSK', { mkey: K.PSK }),
  alias('kRSAPSK', { mkey: K.RSAPSK }),
  alias('kECDHEPSK', { mkey: K.ECDHEPSK }),
  alias('kDHEPSK', { mkey: K.DHEPSK }),
  alias('kSRP', { mkey: K.SRP }),
  alias('kGOST', { mkey: K.GOST }),
  alias('kGOST18', { mkey: K.GOST18 }),
  alias('aRSA', { auth: A.RSA }),
  alias('aDSS', { auth: A.DSS }),
  alias('DSS', { auth: A.DSS }),
  alias('aNULL', { auth: A.NULL }),
  alias('aECDSA', { auth: A.ECDSA }),
  alias('ECDSA', { auth: A.ECDSA }),
  alias('aPSK', { auth: A.PSK }),
  alias('aGOST01', { auth: A.GOST01 }),
  alias('aGOST12', { auth: A.GOST12 }),
  alias('aGOST', { auth: A.GOST01 | A.GOST12 }),
  alias('aSRP', { auth: A.SRP }),
  alias('EDH', { mkey: K.DHE, auth: ~A.NULL }),
  alias('DHE', { mkey: K.DHE, auth: ~A.NULL }),
  alias('EECDH', { mkey: K.ECDHE, auth: ~A.NULL }),
  alias('ECDHE', { mkey: K.ECDHE, auth: ~A.NULL }),
  alias('NULL', { enc: E.NULL }),
  alias('RSA', { mkey: K.RSA, auth: A.RSA }),
  alias('ADH', { mkey: K.DHE, auth: A.NULL }),
  alias('AECDH', { mkey: K.ECDHE, auth: A.NULL }),
  alias('PSK', { mkey: K_PSK }),
  alias('SRP', { mkey: K.SRP }),
  alias('3DES', { enc: E.TDES }),
  alias('RC4', { enc: E.RC4 }),
  alias('RC2', { enc: E.RC2 }),
  alias('IDEA', { enc: E.IDEA }),
  alias('SEED', { enc: E.SEED }),
  alias('eNULL', { enc: E.NULL }),
  alias('GOST89', { enc: E.GOST89 | E.GOST8912 | E.MAGMA | E.KUZNYECHIK }),
  alias('AES128', { enc: E.AES128 | E.AES128GCM | E.AES128CCM | E.AES128CCM8 }),
  alias('AES256', { enc: E.AES256 | E.AES256GCM | E.AES256CCM | E.AES256CCM8 }),
  alias('AES', { enc: E_AES }),
  alias('AESGCM', { enc: E_AESGCM }),
  alias('AESCCM', { enc: E_AESCCM }),
  alias('AESCCM8', { enc: E.AES128CCM8 | E.AES256CCM8 }),
  alias('CAMELLIA128', { enc: E.CAMELLIA128 }),
  alias('CAMELLIA256', { enc: E.CAMELLIA256 }),
  alias('CAMELLIA', { enc: E_CAMELLIA }),
  alias('CHACHA20', { enc: E.CHACHA20POLY1305 }),
  alias('GOST2012-GOST8912-GOST8912', { enc: E.GOST8912 }),
  alias('ARIA', { enc: E_ARIAGCM }),
  alias('ARIAGCM', { enc: E_ARIAGCM }),
  alias('ARIA128', { enc: E.ARIA128GCM }),
  alias('ARIA256', { enc: E.ARIA256GCM }),
  alias('CBC', { enc: E_CBC }),
  alias('MD5', { mac: M.MD5 }),
  alias('SHA1', { mac: M.SHA1 }),
  alias('SHA', { mac: M.SHA1 }),
  alias('GOST94', { mac: M.GOST94 }),
  alias('GOST89MAC', { mac: M.GOST89MAC | M.GOST89MAC12 }),
  alias('SHA256', { mac: M.SHA256 }),
  alias('SHA384', { mac: M.SHA384 }),
  alias('GOST12', { mac: M.GOST12_256 }),
  alias('SSLv3', { minTls: SSL3_VERSION }),
  alias('TLSv1', { minTls: TLS1_VERSION }),
  alias('TLSv1.0', { minTls: TLS1_VERSION }),
  alias('TLSv1.2', { minTls: TLS1_2_VERSION }),
  alias('LOW', { strength: S.LOW }),
  alias('MEDIUM', { strength: S.MEDIUM }),
  alias('HIGH', { strength: S.HIGH }),
  alias('FIPS', { enc: ~E.NULL, strength: S.FIPS }),
  // Backward-compatible spellings. Their algo_strength still says HIGH although 3DES is MEDIUM since 1.1.0; they
  // match the 3DES suites only through the shared FIPS bit.
  alias('EDH-DSS-DES-CBC3-SHA', {
    mkey: K.DHE,
    auth: A.DSS,
    enc: E.TDES,
    mac: M.SHA1,
    strength: S.HIGH | S.FIPS,
  }),
  alias('EDH-RSA-DES-CBC3-SHA', {
    mkey: K.DHE,
    auth: A.RSA,
    enc: E.TDES,
    mac: M.SHA1,
    strength: S.HIGH | S.FIPS,
  }),
];

/** Words that were aliases in OpenSSL ≤ 1.0.2 and are silently ignored by 1.1+ (named in warnings). */
const REMOVED_ALIASES = new Set([
  'EXP',
  'EXPORT',
  'EXPORT40',
  'EXPORT56',
  'DES',
  'kDH',
  'kDHr',
  'kDHd',
  'kECDH',
  'kECDHr',
  'kECDHe',
  'aDH',
  'aECDH',
  'KRB5',
  'kKRB5',
  'aKRB5',
  'aFZA',
  'kFZA',
  'eFZA',
  'FZA',
  'TLSv1.1',
]);

/** What the build cannot use at all (ssl_load_ciphers: disabled_enc/mac/auth/mkey masks). */
function disabledMasks(build: OpensslBuild): Algorithms {
  const legacy = build.legacyProvider ? 0 : E.RC4 | E.RC2 | E.IDEA | E.SEED | E.DES;
  return {
    // GOST needs the gost engine/provider, which we never assume.
    mkey: K.GOST | K.GOST18,
    auth: A.GOST01 | A.GOST12,
    enc: legacy | E.GOST89 | E.GOST8912 | E.MAGMA | E.KUZNYECHIK,
    mac: M.GOST94 | M.GOST89MAC | M.GOST89MAC12 | M.GOST12_256 | M.GOST12_512 | M.MAGMAOMAC | M.KUZNYECHIKOMAC,
    minTls: 0,
    strength: 0,
  };
}

function aliasAvailable(a: Alias, disabled: Algorithms): boolean {
  // ssl_cipher_collect_aliases(): an alias naming only disabled algorithms in some category is dropped.
  if (a.mkey && (a.mkey & ~disabled.mkey) === 0) return false;
  if (a.auth && (a.auth & ~disabled.auth) === 0) return false;
  if (a.enc && (a.enc & ~disabled.enc) === 0) return false;
  if (a.mac && (a.mac & ~disabled.mac) === 0) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// The candidate list and its default preference order.

interface Entry {
  readonly c: OsslCipher;
  active: boolean;
}

interface Universe {
  /** Suites of this build, in the order ssl_create_cipher_list() leaves them before the rule string. */
  readonly ordered: readonly OsslCipher[];
  readonly byName: ReadonlyMap<string, OsslCipher>;
  readonly aliases: ReadonlyMap<string, Alias>;
  /** Every OpenSSL suite name in the table, also those this build lacks (for warnings). */
  readonly knownSuiteNames: ReadonlySet<string>;
}

const universeCache = new WeakMap<readonly CipherSuite[], Map<string, Universe>>();

function buildKey(build: OpensslBuild): string {
  return `${build.weakSslCiphers ? 1 : 0}${build.idea ? 1 : 0}${build.legacyProvider ? 1 : 0}`;
}

/**
 * The collect order stands in for ssl3_ciphers[] read backwards (ssl_cipher_collect_ciphers takes them through
 * ssl3_get_cipher(), which indexes from the end). s3_lib.c lists suites mostly by ascending code point within
 * families, so descending code point reproduces OpenSSL's tie-breaks among equally ranked suites; the oracle test
 * checks the resulting order against `openssl ciphers` for the suites this machine has.
 */
function collectOrder(a: OsslCipher, b: OsslCipher): number {
  return b.id - a.id;
}

function getUniverse(suites: readonly CipherSuite[], build: OpensslBuild): Universe {
  let perBuild = universeCache.get(suites);
  if (!perBuild) {
    perBuild = new Map();
    universeCache.set(suites, perBuild);
  }
  const key = buildKey(build);
  const cached = perBuild.get(key);
  if (cached) return cached;

  const disabled = disabledMasks(build);
  const present: OsslCipher[] = [];
  for (const suite of suites) {
    const c = describeSuite(suite);
    if (!c) continue;
    if (c.needs.weak && !build.weakSslCiphers) continue;
    if (c.needs.idea && !build.idea) continue;
    if (c.enc & disabled.enc || c.mac & disabled.mac || c.auth & disabled.auth || c.mkey & disabled.mkey) continue;
    present.push(c);
  }
  present.sort(collectOrder);
  const list: Entry[] = present.map((c) => ({ c, active: false }));
  applyDefaultOrdering(list);

  const ordered = list.map((e) => e.c);
  const byName = new Map(ordered.map((c) => [c.name, c]));
  const aliases = new Map(ALIASES.filter((a) => aliasAvailable(a, disabled)).map((a) => [a.name, a]));
  const knownSuiteNames = new Set(suites.flatMap((suite) => (suite.openssl === null ? [] : [suite.openssl])));
  const universe = { ordered, byName, aliases, knownSuiteNames };
  perBuild.set(key, universe);
  return universe;
}

interface Rule extends Algorithms {
  /** Exact suite (a suite name was part of the element), else 0. */
  readonly cipherId: number;
}

const MATCH_ALL: Rule = { cipherId: 0, mkey: 0, auth: 0, enc: 0, mac: 0, minTls: 0, strength: 0 };

function rule(fields: Partial<Rule>): Rule {
  return { ...MATCH_ALL, ...fields };
}

function matches(r: Rule, c: OsslCipher): boolean {
  if (r.cipherId !== 0 && r.cipherId !== c.id) return false;
  if (r.mkey && !(r.mkey & c.mkey)) return false;
  if (r.auth && !(r.auth & c.auth)) return false;
  if (r.enc && !(r.enc & c.enc)) return false;
  if (r.mac && !(r.mac & c.mac)) return false;
  if (r.minTls && r.minTls !== c.minTls) return false;
  if (r.strength & STRONG_MASK && !(r.strength & STRONG_MASK & c.strength)) return false;
  if (r.strength & DEFAULT_MASK && !(r.strength & DEFAULT_MASK & c.strength)) return false;
  return true;
}

type ListOp = 'add' | 'order' | 'delete' | 'bump' | 'kill';

/**
 * ssl_cipher_apply_rule() on an array standing in for OpenSSL's doubly linked list. Forward rules visit entries in
 * list order and move hits to the tail; `delete` and `bump` walk backwards moving hits to the head, which keeps
 * the moved entries in their previous relative order. Returns how many entries matched the selector.
 */
function applyRule(list: Entry[], op: ListOp, select: (c: OsslCipher) => boolean): number {
  const hits: Entry[] = [];
  const rest: Entry[] = [];
  let matched = 0;
  for (const entry of list) {
    if (!select(entry.c)) {
      rest.push(entry);
      continue;
    }
    matched += 1;
    switch (op) {
      case 'add':
        if (entry.active) rest.push(entry);
        else {
          entry.active = true;
          hits.push(entry);
        }
        break;
      case 'order':
      case 'bump':
        (entry.active ? hits : rest).push(entry);
        break;
      case 'delete':
        if (entry.active) {
          entry.active = false;
          hits.push(entry);
        } else rest.push(entry);
        break;
      case 'kill':
        entry.active = false;
        break;
    }
  }
  const next = op === 'delete' || op === 'bump' ? [...hits, ...rest] : [...rest, ...hits];
  list.splice(0, list.length, ...next);
  return matched;
}

/** ssl_cipher_strength_sort(): active suites by descending strength bits, ties keep their order. */
function strengthSort(list: Entry[]): void {
  const bits = [...new Set(list.filter((e) => e.active).map((e) => e.c.strengthBits))].sort((a, b) => b - a);
  for (const b of bits) applyRule(list, 'order', (c) => c.strengthBits === b);
}

/** The fixed preamble of ssl_create_cipher_list() (OpenSSL 3.0), which sets the default preference order. */
function applyDefaultOrdering(list: Entry[]): void {
  const by = (r: Rule) => (c: OsslCipher) => matches(r, c);
  // Prefer ephemeral ECDH, ECDSA before RSA.
  applyRule(list, 'add', by(rule({ mkey: K.ECDHE, auth: A.ECDSA })));
  applyRule(list, 'add', by(rule({ mkey: K.ECDHE })));
  applyRule(list, 'delete', by(rule({ mkey: K.ECDHE })));
  // Within each strength group GCM before ChaCha20, then the rest of AES.
  applyRule(list, 'add', by(rule({ enc: E_AESGCM })));
  applyRule(list, 'add', by(rule({ enc: E.CHACHA20POLY1305 })));
  applyRule(list, 'add', by(rule({ enc: E_AES ^ E_AESGCM })));
  applyRule(list, 'add', () => true);
  // Low priority for MD5, anonymous, RSA and PSK key exchange, RC4.
  applyRule(list, 'order', by(rule({ mac: M.MD5 })));
  applyRule(list, 'order', by(rule({ auth: A.NULL })));
  applyRule(list, 'order', by(rule({ mkey: K.RSA })));
  applyRule(list, 'order', by(rule({ mkey: K.PSK })));
  applyRule(list, 'order', by(rule({ enc: E.RC4 })));
  strengthSort(list);
  // Partially overrule the strength sort: TLS 1.2 suites first, then (EC)DHE + AEAD > (EC)DHE > AEAD > rest.
  applyRule(list, 'bump', by(rule({ minTls: TLS1_2_VERSION })));
  applyRule(list, 'bump', by(rule({ mac: M.AEAD })));
  applyRule(list, 'bump', by(rule({ mkey: K.DHE | K.ECDHE })));
  applyRule(list, 'bump', by(rule({ mkey: K.DHE | K.ECDHE, mac: M.AEAD })));
  applyRule(list, 'delete', () => true);
}

// ---------------------------------------------------------------------------------------------------------------
// The rule string.

const OPENSSL_DEFAULT_CIPHER_LIST = 'ALL:!COMPLEMENTOFDEFAULT:!eNULL';

function isSeparator(ch: string | undefined): boolean {
  return ch === ':' || ch === ' ' || ch === ';' || ch === ',';
}

function isWordChar(ch: string | undefined): boolean {
  return ch !== undefined && /[A-Za-z0-9.=-]/.test(ch);
}

interface ParseState {
  readonly list: Entry[];
  readonly universe: Universe;
  readonly warnings: string[];
  readonly elements: CipherStringElement[];
  securityLevel: number | null;
  ok: boolean;
  error: string | null;
}

const OPS: Readonly<Record<string, CipherRuleOp>> = { '-': 'delete', '+': 'order', '!': 'kill', '@': 'special' };

function fail(state: ParseState, message: string): void {
  state.ok = false;
  state.error ??= message;
}

/** ssl_cipher_process_rulestr(). */
function processRuleString(text: string, state: ParseState): void {
  let i = 0;
  while (i < text.length) {
    const start = i;
    const first = text[i];
    const op: CipherRuleOp = (first !== undefined && OPS[first]) || 'add';
    if (op !== 'add') i += 1;
    if (isSeparator(first)) {
      i += 1;
      continue;
    }

    let acc: Rule = MATCH_ALL;
    let found = true;
    let problem: CipherStringElement['status'] = 'ok';
    let word = '';
    for (;;) {
      const wordStart = i;
      while (isWordChar(text[i])) i += 1;
      word = text.slice(wordStart, i);
      if (word.length === 0) {
        const shown = text[i] === undefined ? 'end of string' : `"${text[i]}"`;
        fail(state, `invalid cipher string: ${shown} at offset ${i} where a name was expected`);
        state.elements.push({ text: text.slice(start, i + 1), op, status: 'error', matched: 0 });
        return;
      }
      if (op === 'special') break;
      const multi = text[i] === '+';
      if (multi) i += 1;

      const part = lookupWord(word, state.universe);
      if (!part) {
        found = false;
        problem = 'unknown';
        break;
      }
      const merged = mergeRule(acc, part);
      if (!merged) {
        found = false;
        problem = 'contradictory';
        break;
      }
      acc = merged;
      if (!multi) break;
    }
    const elementText = (end: number) => text.slice(start, end);

    if (op === 'special') {
      applySpecial(word, state);
      while (i < text.length && !isSeparator(text[i])) i += 1;
      state.elements.push({ text: elementText(i), op, status: state.ok ? 'ok' : 'error', matched: 0 });
    } else if (found) {
      const listOp: ListOp = op === 'order' ? 'order' : op;
      const matched = applyRule(state.list, listOp, (c) => matches(acc, c));
      const shown = elementText(i);
      let status: CipherStringElement['status'] = 'ok';
      if (matched === 0) {
        const rule = acc;
        status = state.universe.ordered.some((c) => matches(rule, c)) ? 'redundant' : 'no-match';
        state.warnings.push(
          status === 'redundant'
            ? `"${shown}": the suites it names were already removed by an earlier "!": no effect`
            : `"${shown}" matches no cipher suite of this OpenSSL build: no effect`,
        );
      }
      state.elements.push({ text: shown, op, status, matched });
    } else {
      while (i < text.length && !isSeparator(text[i])) i += 1;
      const shown = elementText(i);
      state.elements.push({ text: shown, op, status: problem, matched: 0 });
      state.warnings.push(explainSkipped(shown, word, problem, state.universe));
    }
  }
}

function explainSkipped(
  element: string,
  word: string,
  problem: CipherStringElement['status'],
  universe: Universe,
): string {
  if (problem === 'contradictory') return `"${element}": its parts can never match together; OpenSSL skips it`;
  if (word === 'DEFAULT')
    return `"${element}": DEFAULT is only recognised at the start of the string; OpenSSL skips it`;
  if (REMOVED_ALIASES.has(word)) return `"${element}": "${word}" is no longer known to OpenSSL 1.1+; OpenSSL skips it`;
  if (/^SUITEB/.test(word)) return `"${element}": Suite B keywords only work at the start of the string; skipped`;
  if (ALIASES.some((a) => a.name === word) || universe.knownSuiteNames.has(word)) {
    return `"${element}": "${word}" is not available in this OpenSSL build; OpenSSL skips it`;
  }
  return `"${element}": unknown name "${word}"; OpenSSL skips it`;
}

function lookupWord(word: string, universe: Universe): Rule | null {
  const cipher = universe.byName.get(word);
  if (cipher) {
    // A suite name contributes its own algorithms and strength, and pins the suite; its protocol version does not
    // become part of the pattern.
    return {
      cipherId: cipher.id,
      mkey: cipher.mkey,
      auth: cipher.auth,
      enc: cipher.enc,
      mac: cipher.mac,
      minTls: 0,
      strength: cipher.strength,
    };
  }
  const a = universe.aliases.get(word);
  return a ? { ...a, cipherId: 0 } : null;
}

/** The AND of `a+b` as ssl_cipher_process_rulestr() accumulates it; null when a category becomes empty. */
function mergeRule(acc: Rule, part: Rule): Rule | null {
  const and = (x: number, y: number): number | null => {
    if (!y) return x;
    if (!x) return y;
    const r = x & y;
    return r ? r : null;
  };
  const mkey = and(acc.mkey, part.mkey);
  const auth = and(acc.auth, part.auth);
  const enc = and(acc.enc, part.enc);
  const mac = and(acc.mac, part.mac);
  if (mkey === null || auth === null || enc === null || mac === null) return null;

  let strength = acc.strength;
  const partStrong = part.strength & STRONG_MASK;
  if (partStrong) {
    if (strength & STRONG_MASK) {
      strength &= partStrong | ~STRONG_MASK;
      if (!(strength & STRONG_MASK)) return null;
    } else strength = partStrong;
  }
  const partDefault = part.strength & DEFAULT_MASK;
  if (partDefault) {
    if (strength & DEFAULT_MASK) {
      strength &= partDefault | ~DEFAULT_MASK;
      if (!(strength & DEFAULT_MASK)) return null;
    } else strength |= partDefault;
  }

  let minTls = acc.minTls;
  if (part.cipherId === 0 && part.minTls) {
    if (minTls !== 0 && minTls !== part.minTls) return null;
    minTls = part.minTls;
  }
  return { cipherId: part.cipherId || acc.cipherId, mkey, auth, enc, mac, minTls, strength };
}

function applySpecial(word: string, state: ParseState): void {
  if (word === 'STRENGTH') {
    strengthSort(state.list);
    return;
  }
  if (word.length === 10 && word.startsWith('SECLEVEL=')) {
    const level = word.charCodeAt(9) - 48;
    if (level >= 0 && level <= 5) {
      state.securityLevel = level;
      return;
    }
  }
  fail(state, `invalid cipher string: unknown command "@${word}"`);
}

const SUITE_B: ReadonlyArray<[NonNullable<CipherStringResult['suiteB']>, string]> = [
  // check_suiteb_cipher_list(): prefixes, tested in this order.
  ['SUITEB128ONLY', 'ECDHE-ECDSA-AES128-GCM-SHA256'],
  ['SUITEB128C2', 'ECDHE-ECDSA-AES256-GCM-SHA384'],
  ['SUITEB128', 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384'],
  ['SUITEB192', 'ECDHE-ECDSA-AES256-GCM-SHA384'],
];

/**
 * The TLS ≤ 1.2 suites an OpenSSL build has, in its default preference order (the order `ALL:COMPLEMENTOFALL`
 * prints).
 */
export function opensslCipherUniverse(options: CipherStringOptions = {}): CipherSuite[] {
  return getUniverse(options.suites ?? CIPHER_SUITES, options.build ?? OPENSSL_3_0_DEBIAN).ordered.map((c) => c.suite);
}

/** Evaluates `spec` as SSL_CTX_set_cipher_list() in OpenSSL 3.0 would. Never throws. */
export function evaluateOpensslCipherString(spec: string, options: CipherStringOptions = {}): CipherStringResult {
  const universe = getUniverse(options.suites ?? CIPHER_SUITES, options.build ?? OPENSSL_3_0_DEBIAN);
  const state: ParseState = {
    list: universe.ordered.map((c) => ({ c, active: false })),
    universe,
    warnings: [],
    elements: [],
    securityLevel: null,
    ok: true,
    error: null,
  };

  let rest = spec;
  let suiteB: CipherStringResult['suiteB'] = null;
  const suiteBMatch = SUITE_B.find(([prefix]) => spec.startsWith(prefix));
  if (suiteBMatch) {
    suiteB = suiteBMatch[0];
    rest = suiteBMatch[1];
    if (spec.length > suiteB.length) state.warnings.push(`"${spec}": everything after ${suiteB} is ignored`);
  }

  if (rest.startsWith('DEFAULT')) {
    processRuleString(OPENSSL_DEFAULT_CIPHER_LIST, { ...state, elements: [], warnings: [] });
    state.elements.push({
      text: 'DEFAULT',
      op: 'add',
      status: 'ok',
      matched: state.list.filter((e) => e.active).length,
    });
    rest = rest.slice(7);
    if (rest.startsWith(':')) rest = rest.slice(1);
  }
  if (rest.length > 0) processRuleString(rest, state);

  const ciphers = state.list.filter((e) => e.active).map((e) => e.c.suite);
  let error = state.error;
  if (error === null && ciphers.length === 0) error = 'no cipher match: the string selects no TLS ≤ 1.2 cipher suite';
  return {
    ciphers: error === null ? ciphers : [],
    warnings: state.warnings,
    error,
    securityLevel: state.securityLevel,
    suiteB,
    elements: state.elements,
  };
}
