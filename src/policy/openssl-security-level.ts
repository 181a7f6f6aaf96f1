// OpenSSL security levels (`@SECLEVEL=n`, SSL_CTX_set_security_level(), openssl.cnf CipherString). A level does not
// change the cipher *list* (`openssl ciphers -v` prints the same list at every level); OpenSSL applies it when it
// offers or chooses a suite and a protocol version. Reproduced from OpenSSL 3.0 ssl/ssl_cert.c
// ssl_security_default_callback():
//   SSL_SECOP_CIPHER_*: level ≥ 1 rejects suites below minbits = {80, 112, 128, 192, 256}[level-1] strength bits
//     (3DES counts 112), anonymous (aNULL) suites and MD5 MACs; minbits > 160 rejects SHA-1 MACs; level ≥ 2
//     rejects RC4; level ≥ 3 keeps only forward-secret key exchange (kDHE, kECDHE, kDHEPSK, kECDHEPSK: the mask
//     3.0.x uses, checked against `openssl ciphers -s` of OpenSSL 3.0.19; 3.0.0 had only kDHE/kECDHE).
//   SSL_SECOP_VERSION: level ≥ 2 rejects SSLv3, ≥ 3 TLS 1.0, ≥ 4 TLS 1.1.
// Every OpenSSL since 1.1.0 makes these checks (its ssl_cert.c has them, with only kDHE/kECDHE as forward-secret).
// OpenSSL 3.0 also rates SHA-1 and MD5+SHA-1 signatures below 80 bits (openssl/openssl commit aba03ae, CHANGES.md
// "OpenSSL 3.0"): SSLv3, TLS 1.0 and TLS 1.1, which can only sign with those, no longer complete a handshake at
// level 1 or above. Debian and Ubuntu build OpenSSL 3 with OPENSSL_TLS_SECURITY_LEVEL=2 (`openssl version -a`), but
// that default reaches only programs that leave the level alone: Postfix sets its own (postfix-tls-policy.ts).

import type { CipherSuite } from '../ciphers/suites.generated.js';
import type { Protocol } from '../model/types.js';

/** OpenSSL's compiled-in default level. Distributions change it (Debian/Ubuntu: 2). */
export const OPENSSL_DEFAULT_SECURITY_LEVEL = 1;
/** Debian 12's build (`-DOPENSSL_TLS_SECURITY_LEVEL=2`), the CI machine's: what Dovecot runs at, not Postfix. */
export const DEBIAN_SECURITY_LEVEL = 2;

/**
 * Which level checks apply: `1.1`, those of every OpenSSL since 1.1.0 (versions and suites); `3.0`, also OpenSSL
 * 3.0's rating of SHA-1 and MD5+SHA-1 signatures, which ends TLS < 1.2 at level ≥ 1 for a server and for a client
 * with a signed key exchange.
 */
export type SecurityLevelRules = '1.1' | '3.0';

const MIN_BITS = [80, 112, 128, 192, 256] as const;
const FORWARD_SECRET_KX: ReadonlySet<string> = new Set(['DHE', 'ECDHE', 'DHE_PSK', 'ECDHE_PSK']);

/** Minimum symmetric strength in bits a suite needs at `level` (0 for level 0). */
export function securityLevelMinBits(level: number): number {
  if (level <= 0) return 0;
  return MIN_BITS[Math.min(level, 5) - 1] ?? 256;
}

/** OpenSSL's "strength bits": the key length, except 3DES which counts 112. */
function strengthBits(suite: CipherSuite): number {
  return suite.enc === '3DES_EDE_CBC' ? 112 : suite.encBits;
}

/** Whether OpenSSL 3.0 would offer or accept `suite` at security `level` (SSL_SECOP_CIPHER_SUPPORTED). */
export function isCipherAllowedAtSecurityLevel(suite: CipherSuite, level: number): boolean {
  if (level <= 0) return true;
  const minBits = securityLevelMinBits(level);
  if (strengthBits(suite) < minBits) return false;
  if (suite.auth === 'anon') return false;
  if (suite.mac === 'MD5') return false;
  if (minBits > 160 && suite.mac === 'SHA1') return false;
  if (level >= 2 && suite.enc === 'RC4') return false;
  if (level >= 3 && suite.minProtocol !== 'TLSv1.3' && !FORWARD_SECRET_KX.has(suite.kx)) return false;
  return true;
}

/** The suites of `ciphers` usable at `level`, order kept. */
export function filterCiphersBySecurityLevel(ciphers: readonly CipherSuite[], level: number): CipherSuite[] {
  return ciphers.filter((suite) => isCipherAllowedAtSecurityLevel(suite, level));
}

/** Protocol versions the level's version check (SSL_SECOP_VERSION) lets through. */
export function isProtocolPermittedAtSecurityLevel(protocol: Protocol, level: number): boolean {
  switch (protocol) {
    case 'SSLv2':
    case 'unknown':
      return false;
    case 'SSLv3':
      return level < 2;
    case 'TLSv1':
      return level < 3;
    case 'TLSv1.1':
      return level < 4;
    case 'TLSv1.2':
    case 'TLSv1.3':
      return true;
  }
}

const PROTOCOL_ORDER: readonly Protocol[] = ['SSLv2', 'SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** Key exchanges whose server parameters are not signed: a TLS < 1.2 client needs no SHA-1/MD5 signature. */
function hasUnsignedKeyExchange(suite: CipherSuite): boolean {
  if (suite.kx === 'RSA' || suite.kx === 'PSK' || suite.kx === 'RSA_PSK') return true;
  if (suite.kx === 'DHE_PSK' || suite.kx === 'ECDHE_PSK') return true;
  return suite.kx === 'SRP' && suite.auth === 'SRP';
}

/**
 * Whether OpenSSL acting as `role` can complete a handshake with `protocol` and `suite` at security `level`. With
 * the `3.0` rules (the default), below TLS 1.2 at level ≥ 1 a server cannot sign at all (checked: `openssl
 * s_server` at the Debian default level answers a TLS 1.0 client offering only AES128-SHA with an internal_error
 * alert), while a client still completes
 * handshakes whose key exchange carries no server signature (RSA key transport, PSK; checked with
 * `openssl s_client -tls1 -cipher AES128-SHA` against a level-0 server) and rejects signed ones ("legacy sigalg
 * disallowed or unsupported").
 */
export function canCompleteHandshake(
  role: 'server' | 'client',
  protocol: Protocol,
  suite: CipherSuite,
  level: number,
  rules: SecurityLevelRules = '3.0',
): boolean {
  if (!isProtocolPermittedAtSecurityLevel(protocol, level)) return false;
  if (!isCipherAllowedAtSecurityLevel(suite, level)) return false;
  if (suite.minProtocol === 'TLSv1.3' || protocol === 'TLSv1.3') return suite.minProtocol === protocol;
  if (PROTOCOL_ORDER.indexOf(protocol) < PROTOCOL_ORDER.indexOf(suite.minProtocol)) return false;
  const legacy = protocol === 'SSLv3' || protocol === 'TLSv1' || protocol === 'TLSv1.1';
  if (legacy && level >= 1 && rules === '3.0') return role === 'client' && hasUnsignedKeyExchange(suite);
  return true;
}
