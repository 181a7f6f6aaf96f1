// Exim ≥ 4.93 with GnuTLS ≥ 3.1.10 does not log a suite name. It rewrites gnutls_session_get_desc()
//   (TLS1.2)-(ECDHE-SECP256R1)-(RSA-PSS-RSAE-SHA256)-(AES-256-GCM)
// into `X=TLS1.2:ECDHE_SECP256R1__RSA_PSS_RSAE_SHA256__AES_256_GCM:256` (Exim src/tls-gnu.c, peer_status:
// `)-(` → `__`, `-` → `_`). The middle field is `kx-group [__signature] __cipher [__mac]` and is mapped back to
// a CSV row here, following ../shared/data/README.md §3.2.

import { sortWorstFirst } from './rating.js';
import { CIPHER_SUITES, type CipherSuite } from './suites.generated.js';

interface Cipher {
  readonly enc: string;
  readonly encBits: number;
}

/** GnuTLS cipher names after Exim's `-` → `_` (data/README.md §3.2, "cipher → (enc, enc_bits)"). */
const CIPHERS: ReadonlyMap<string, Cipher> = new Map([
  ['AES_128_CBC', { enc: 'AES_CBC', encBits: 128 }],
  ['AES_256_CBC', { enc: 'AES_CBC', encBits: 256 }],
  ['AES_128_GCM', { enc: 'AES_GCM', encBits: 128 }],
  ['AES_256_GCM', { enc: 'AES_GCM', encBits: 256 }],
  ['AES_128_CCM', { enc: 'AES_CCM', encBits: 128 }],
  ['AES_256_CCM', { enc: 'AES_CCM', encBits: 256 }],
  ['AES_128_CCM_8', { enc: 'AES_CCM_8', encBits: 128 }],
  ['AES_256_CCM_8', { enc: 'AES_CCM_8', encBits: 256 }],
  ['CAMELLIA_128_CBC', { enc: 'CAMELLIA_CBC', encBits: 128 }],
  ['CAMELLIA_256_CBC', { enc: 'CAMELLIA_CBC', encBits: 256 }],
  ['CAMELLIA_128_GCM', { enc: 'CAMELLIA_GCM', encBits: 128 }],
  ['CAMELLIA_256_GCM', { enc: 'CAMELLIA_GCM', encBits: 256 }],
  ['CHACHA20_POLY1305', { enc: 'CHACHA20_POLY1305', encBits: 256 }],
  ['3DES_CBC', { enc: '3DES_EDE_CBC', encBits: 168 }],
  ['ARCFOUR_128', { enc: 'RC4', encBits: 128 }],
  ['ARCFOUR_40', { enc: 'RC4', encBits: 40 }],
  ['NULL', { enc: 'NULL', encBits: 0 }],
  ['GOST28147_TC26Z_CNT', { enc: 'GOST28147_CNT', encBits: 256 }],
  ['MAGMA_CTR_ACPKM', { enc: 'MAGMA_CTR', encBits: 256 }],
  ['KUZNYECHIK_CTR_ACPKM', { enc: 'KUZNYECHIK_CTR', encBits: 256 }],
]);

/** GnuTLS MAC names (lib/algorithms/mac.c) → CSV `mac`. `AEAD` appears in some Exim versions' output. */
const MACS: ReadonlyMap<string, string> = new Map([
  ['SHA1', 'SHA1'],
  ['SHA256', 'SHA256'],
  ['SHA384', 'SHA384'],
  ['MD5', 'MD5'],
  ['AEAD', 'AEAD'],
  ['MAC_NULL', 'NULL'],
  ['GOST28147_TC26Z_IMIT', 'GOST28147_IMIT'],
]);

interface KeyExchange {
  readonly kx: string;
  /** Set when the key exchange fixes the authentication; otherwise the signature token decides. */
  readonly auth: string | null;
  /** Only TLS 1.3 prints this form (`HYBRID_X25519_MLKEM768`, `ECDHE_PSK_X25519`, …). */
  readonly tls13Only: boolean;
}

/** gnutls_kx_get_name() spellings that are printed without a group (session.c falls back to the kx name). */
const KX_EXACT: ReadonlyMap<string, KeyExchange> = new Map(
  (
    [
      ['RSA', 'RSA', 'RSA'],
      ['PSK', 'PSK', 'PSK'],
      ['RSA_PSK', 'RSA_PSK', 'RSA'],
      ['DHE_PSK', 'DHE_PSK', 'PSK'], // GnuTLS < 3.5 printed these without a group
      ['ECDHE_PSK', 'ECDHE_PSK', 'PSK'],
      ['ANON_DH', 'DHE', 'anon'],
      ['ANON_ECDH', 'ECDHE', 'anon'],
      ['SRP', 'SRP', 'SRP'],
      ['SRP_RSA', 'SRP', 'RSA'],
      ['SRP_DSS', 'SRP', 'DSS'],
      ['VKO_GOST_12', 'GOST', 'GOST'],
      ['NULL', 'NULL', 'NULL'],
    ] as const
  ).map(([token, kx, auth]) => [token, { kx, auth, tls13Only: false }]),
);

/** `<prefix><GROUP>` forms, most specific prefix first. */
const KX_PREFIXES: readonly (readonly [string, KeyExchange])[] = [
  ['ANON_ECDH_', { kx: 'ECDHE', auth: 'anon', tls13Only: false }],
  ['ANON_DH_', { kx: 'DHE', auth: 'anon', tls13Only: false }],
  ['ECDHE_PSK_', { kx: 'ECDHE_PSK', auth: 'PSK', tls13Only: true }],
  ['DHE_PSK_', { kx: 'DHE_PSK', auth: 'PSK', tls13Only: true }],
  ['HYBRID_', { kx: 'ANY', auth: 'ANY', tls13Only: true }],
  ['ECDHE_', { kx: 'ECDHE', auth: null, tls13Only: false }],
  ['DHE_', { kx: 'DHE', auth: null, tls13Only: false }], // includes DHE_CUSTOM2048, DHE_FFDHE2048, old DHE_2048
];

function parseKeyExchange(token: string): KeyExchange | null {
  const exact = KX_EXACT.get(token);
  if (exact !== undefined) return exact;
  for (const [prefix, kx] of KX_PREFIXES) {
    if (token.length > prefix.length && token.startsWith(prefix)) return kx;
  }
  return null;
}

/** gnutls_sign_get_name() spellings: `RSA_SHA256`, `RSA_PSS_RSAE_SHA256`, `ECDSA_SECP256R1_SHA256`, `EDDSA_ED25519`… */
function authFromSignature(token: string): string | null {
  if (token.startsWith('RSA')) return 'RSA';
  if (token.startsWith('ECDSA') || token.startsWith('EDDSA')) return 'ECDSA';
  if (token.startsWith('DSA')) return 'DSS';
  if (token.startsWith('GOST')) return 'GOST';
  return null;
}

/**
 * GnuTLS formats the description into a 64-byte buffer (lib/session.c DESC_SIZE), so long combinations lose their
 * tail: the last token may be a cut-off name, or empty. Such a token stands for every name it is a prefix of.
 */
function namesStartingWith<V>(names: ReadonlyMap<string, V>, prefix: string): V[] {
  const values: V[] = [];
  for (const [name, value] of names) if (name.startsWith(prefix)) values.push(value);
  return values;
}

interface Description {
  readonly kx: KeyExchange;
  /** Authentication named by the signature token, or null when there was none. */
  readonly signedBy: string | null;
  readonly ciphers: readonly Cipher[];
  /** null = any MAC (token absent or cut off to nothing). */
  readonly macs: readonly string[] | null;
}

function parseDescription(text: string): Description | null {
  const tokens = text.split('__');
  if (tokens.length < 2 || tokens.length > 4) return null;
  const kx = parseKeyExchange(tokens[0] ?? '');
  if (kx === null) return null;

  let cipherAt = tokens.findIndex((token, i) => i > 0 && CIPHERS.has(token));
  let ciphers: Cipher[];
  if (cipherAt !== -1) {
    ciphers = [CIPHERS.get(tokens[cipherAt] ?? '') as Cipher];
  } else {
    // Only the last token can have been cut off.
    cipherAt = tokens.length - 1;
    const cut = tokens[cipherAt] ?? '';
    ciphers = cut === '' ? [] : namesStartingWith(CIPHERS, cut);
    if (ciphers.length === 0) return null;
  }
  if (cipherAt > 2 || tokens.length - cipherAt > 2) return null;

  let signedBy: string | null = null;
  if (cipherAt === 2) {
    signedBy = authFromSignature(tokens[1] ?? '');
    if (signedBy === null) return null;
  }

  let macs: string[] | null = null;
  const macToken = tokens[cipherAt + 1];
  if (macToken !== undefined && macToken !== '') {
    const exact = MACS.get(macToken);
    macs = exact !== undefined ? [exact] : namesStartingWith(MACS, macToken);
    if (macs.length === 0) return null;
  }
  return { kx, signedBy, ciphers, macs };
}

/** (kx, auth) pairs the description allows on TLS ≤ 1.2. */
function keyExchangePairs(d: Description): readonly (readonly [string, string])[] {
  if (d.kx.auth !== null) return [[d.kx.kx, d.kx.auth]];
  if (d.signedBy !== null) return [[d.kx.kx, d.signedBy]];
  // No signature: RSA key transport never has one, TLS ≤ 1.2 (EC)DHE_PSK prints as plain (EC)DHE, and on
  // TLS 1.0/1.1 GnuTLS may not report the signature at all (data/README.md §3.2). Every candidate stays open.
  const psk = d.kx.kx === 'ECDHE' ? 'ECDHE_PSK' : 'DHE_PSK';
  return [
    [d.kx.kx, 'RSA'],
    [d.kx.kx, 'ECDSA'],
    [d.kx.kx, 'DSS'],
    [psk, 'PSK'],
  ];
}

/**
 * The CSV row an Exim/GnuTLS session description stands for, or null when the text is not one. `tls13` is the
 * logged protocol: on TLS 1.3 the key exchange and signature are not part of the suite, the cipher alone
 * identifies it (§3.2). When the description leaves a choice open, the candidate with the lower rating wins.
 */
export function suiteFromGnutlsDescription(text: string, tls13: boolean): CipherSuite | null {
  const d = parseDescription(text);
  if (d === null) return null;
  const onTls13 = tls13 || d.kx.tls13Only;
  const pairs = onTls13 ? [] : keyExchangePairs(d);
  const candidates = CIPHER_SUITES.filter(
    (s) =>
      (onTls13 ? s.kx === 'ANY' : s.kx !== 'ANY' && pairs.some(([kx, auth]) => s.kx === kx && s.auth === auth)) &&
      d.ciphers.some((c) => s.enc === c.enc && s.encBits === c.encBits) &&
      (d.macs === null || d.macs.includes(s.mac)),
  );
  // The text came from GnuTLS, so a row GnuTLS implements beats one it never had (e.g. DES vs EXP1024 twins).
  const fromGnutls = candidates.filter((s) => s.gnutls !== null);
  return sortWorstFirst(fromGnutls.length > 0 ? fromGnutls : candidates)[0] ?? null;
}
