// Documented alternative spellings of suites, from ../shared/data/README.md §6. They are not CSV rows: each one
// names the code point of the row it stands for, so the table itself stays generated (suites.generated.ts).
// Old logs carry these spellings: OpenSSL ≤ 1.0.2 builds, GnuTLS 1.0–3.2 (what Exim+GnuTLS wrote before 4.93).

export interface CipherAlias {
  readonly alias: string;
  /** Code point of the CSV row the alias resolves to. */
  readonly code: string;
  readonly library: 'openssl' | 'gnutls';
  /** The pre-RFC code point actually used on the wire, when it is not a row (the ChaCha20 `-OLD` drafts). */
  readonly draftCode?: string;
}

function openssl(code: string, ...aliases: string[]): CipherAlias[] {
  return aliases.map((alias) => ({ alias, code, library: 'openssl' }));
}

function gnutls(code: string, ...aliases: string[]): CipherAlias[] {
  return aliases.map((alias) => ({ alias, code, library: 'gnutls' }));
}

/** §6: draft ChaCha20 code points 0xCC,0x13–15 are not IANA suites; they are rated like their RFC 7905 twins. */
function chachaDraft(draftCode: string, code: string, alias: string): CipherAlias {
  return { alias, code, library: 'openssl', draftCode };
}

export const CIPHER_ALIASES: readonly CipherAlias[] = [
  // OpenSSL spellings (§6, first table).
  ...openssl('0x00,0x12', 'EDH-DSS-CBC-SHA'), // ≤ 1.0.1
  ...openssl('0x00,0x13', 'EDH-DSS-DES-CBC3-SHA'), // ≤ 1.0.2
  ...openssl('0x00,0x16', 'EDH-RSA-DES-CBC3-SHA'), // ≤ 1.0.2
  ...openssl('0xFF,0x85', 'GOST2012-GOST8912-GOST8912', 'GOST2012256-GOST89-GOST89'), // 1.1.x; testssl/GOST engine
  ...openssl('0xFF,0x87', 'GOST2012256-NULL-STREEBOG256'), // testssl/GOST engine
  chachaDraft('0xCC,0x13', '0xCC,0xA8', 'ECDHE-RSA-CHACHA20-POLY1305-OLD'),
  chachaDraft('0xCC,0x14', '0xCC,0xA9', 'ECDHE-ECDSA-CHACHA20-POLY1305-OLD'),
  chachaDraft('0xCC,0x15', '0xCC,0xAA', 'DHE-RSA-CHACHA20-POLY1305-OLD'),

  // GnuTLS historic spellings (§6, second table), oldest release range first.
  ...gnutls('0x00,0x04', 'RSA_ARCFOUR_MD5'), // 1.0 → 3.2
  ...gnutls('0x00,0x05', 'RSA_ARCFOUR_SHA', 'RSA_ARCFOUR_SHA1'), // 1.0–1.2 / 1.4 → 3.2
  ...gnutls('0x00,0x0A', 'RSA_3DES_EDE_CBC_SHA'), // 1.0 → 1.2
  ...gnutls('0x00,0x13', 'DHE_DSS_3DES_EDE_CBC_SHA'),
  ...gnutls('0x00,0x16', 'DHE_RSA_3DES_EDE_CBC_SHA'),
  ...gnutls('0x00,0x2F', 'RSA_AES_128_CBC_SHA'),
  ...gnutls('0x00,0x35', 'RSA_AES_256_CBC_SHA'),
  ...gnutls('0x00,0x32', 'DHE_DSS_AES_128_CBC_SHA'),
  ...gnutls('0x00,0x38', 'DHE_DSS_AES_256_CBC_SHA'),
  ...gnutls('0x00,0x33', 'DHE_RSA_AES_128_CBC_SHA'),
  ...gnutls('0x00,0x39', 'DHE_RSA_AES_256_CBC_SHA'),
  ...gnutls('0x00,0x18', 'ANON_DH_ARCFOUR_MD5', 'DH_ANON_ARCFOUR_MD5'), // 1.0 → 3.0, 3.1 → 3.2
  ...gnutls('0x00,0x1B', 'ANON_DH_3DES_EDE_CBC_SHA', 'ANON_DH_3DES_EDE_CBC_SHA1'), // ≤ 3.0
  ...gnutls('0x00,0x34', 'ANON_DH_AES_128_CBC_SHA', 'ANON_DH_AES_128_CBC_SHA1'),
  ...gnutls('0x00,0x3A', 'ANON_DH_AES_256_CBC_SHA', 'ANON_DH_AES_256_CBC_SHA1'),
  ...gnutls('0x00,0x46', 'ANON_DH_CAMELLIA_128_CBC_SHA1'),
  ...gnutls('0x00,0x89', 'ANON_DH_CAMELLIA_256_CBC_SHA1'),
  ...gnutls('0x00,0x6C', 'ANON_DH_AES_128_CBC_SHA256'),
  ...gnutls('0x00,0x6D', 'ANON_DH_AES_256_CBC_SHA256'),
  ...gnutls('0x00,0x66', 'DHE_DSS_ARCFOUR_SHA', 'DHE_DSS_ARCFOUR_SHA1'), // 1.0–1.2 / 1.4 → 3.2
  ...gnutls('0x00,0x8A', 'PSK_SHA_ARCFOUR_SHA1'), // 1.4 → 3.2
  ...gnutls('0x00,0x8B', 'PSK_SHA_3DES_EDE_CBC_SHA1'),
  ...gnutls('0x00,0x8C', 'PSK_SHA_AES_128_CBC_SHA1'),
  ...gnutls('0x00,0x8D', 'PSK_SHA_AES_256_CBC_SHA1'),
  ...gnutls('0x00,0x8E', 'DHE_PSK_SHA_ARCFOUR_SHA1'),
  ...gnutls('0x00,0x8F', 'DHE_PSK_SHA_3DES_EDE_CBC_SHA1'),
  ...gnutls('0x00,0x90', 'DHE_PSK_SHA_AES_128_CBC_SHA1'),
  ...gnutls('0x00,0x91', 'DHE_PSK_SHA_AES_256_CBC_SHA1'),
  ...gnutls('0x00,0xA9', 'PSK_WITH_AES_256_GCM_SHA384'), // 3.1 → 3.2
  ...gnutls('0x00,0xAB', 'DHE_PSK_WITH_AES_256_GCM_SHA384'),
  // GnuTLS 3.0 only: the ECC suites without the trailing `1` of `…_SHA1`.
  ...gnutls('0xC0,0x06', 'ECDHE_ECDSA_NULL_SHA'),
  ...gnutls('0xC0,0x08', 'ECDHE_ECDSA_3DES_EDE_CBC_SHA'),
  ...gnutls('0xC0,0x09', 'ECDHE_ECDSA_AES_128_CBC_SHA'),
  ...gnutls('0xC0,0x0A', 'ECDHE_ECDSA_AES_256_CBC_SHA'),
  ...gnutls('0xC0,0x10', 'ECDHE_RSA_NULL_SHA'),
  ...gnutls('0xC0,0x12', 'ECDHE_RSA_3DES_EDE_CBC_SHA'),
  ...gnutls('0xC0,0x13', 'ECDHE_RSA_AES_128_CBC_SHA'),
  ...gnutls('0xC0,0x14', 'ECDHE_RSA_AES_256_CBC_SHA'),
  ...gnutls('0xC0,0x15', 'ECDH_ANON_NULL_SHA'),
  ...gnutls('0xC0,0x17', 'ECDH_ANON_3DES_EDE_CBC_SHA'),
  ...gnutls('0xC0,0x18', 'ECDH_ANON_AES_128_CBC_SHA'),
  ...gnutls('0xC0,0x19', 'ECDH_ANON_AES_256_CBC_SHA'),
  ...gnutls('0xC0,0x34', 'ECDHE_PSK_3DES_EDE_CBC_SHA'),
  ...gnutls('0xC0,0x35', 'ECDHE_PSK_AES_128_CBC_SHA'),
  ...gnutls('0xC0,0x36', 'ECDHE_PSK_AES_256_CBC_SHA'),
];
