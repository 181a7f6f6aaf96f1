// Cipher naming and rating: every spelling in the table, the §6 aliases, real logged spellings from the shared
// corpus, the rating rules of ../shared/data/README.md §2, the Schannel mapping of §4.3, and garbage.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { BoundedCache } from '../../src/ciphers/bounded-cache.js';
import {
  CIPHER_ALIASES,
  CIPHER_SUITES,
  type CipherSuite,
  isLegacyProtocol,
  lookupCipher,
  lookupCipherFor,
  normaliseProtocol,
  rateHandshake,
  rateProtocol,
  type SuiteRating,
  schannelCandidates,
  worseRating,
} from '../../src/ciphers/lookup.js';
import type { Protocol, Rating } from '../../src/model/types.js';

const projectRoot = fileURLToPath(new URL('../../../', import.meta.url));
const corpus = path.join(projectRoot, '..', 'shared', 'corpus');
const readCorpus = (file: string): string => readFileSync(path.join(corpus, file), 'utf8');

function byCode(code: string): CipherSuite {
  const suite = CIPHER_SUITES.find((s) => s.code === code);
  assert.ok(suite, `no row ${code}`);
  return suite;
}

const openssl = (name: string | null): string | null => lookupCipher(name ?? '')?.openssl ?? null;

describe('names in the table', () => {
  test('every OpenSSL name round-trips, also in lower case', () => {
    for (const s of CIPHER_SUITES) {
      if (s.openssl === null) continue;
      assert.equal(lookupCipher(s.openssl), s, s.openssl);
      assert.equal(lookupCipher(s.openssl.toLowerCase()), s, s.openssl.toLowerCase());
    }
  });

  test('every IANA name resolves, also with the SSL_ prefix', () => {
    for (const s of CIPHER_SUITES) {
      if (s.iana === null) continue;
      assert.equal(lookupCipher(s.iana), s, s.iana);
      assert.equal(lookupCipher(`SSL_${s.iana.slice(4)}`), s, `SSL_ ${s.iana}`);
    }
  });

  test('every GnuTLS name resolves bare, with TLS_ and with GNUTLS_', () => {
    for (const s of CIPHER_SUITES) {
      if (s.gnutls === null) continue;
      for (const name of [s.gnutls, `TLS_${s.gnutls}`, `GNUTLS_${s.gnutls}`]) assert.equal(lookupCipher(name), s, name);
    }
  });

  test('the protocol does not change what an exact name means', () => {
    for (const p of ['TLSv1', 'TLSv1.2', 'TLSv1.3', 'unknown'] as const) {
      assert.equal(lookupCipherFor(p, 'ECDHE-RSA-AES256-GCM-SHA384')?.code, '0xC0,0x30');
      assert.equal(lookupCipherFor(p, 'AES_256_GCM_SHA384')?.code, '0x13,0x02');
    }
  });
});

describe('aliases (data/README.md §6)', () => {
  const primaryNames = new Map<string, string>();
  for (const s of CIPHER_SUITES) {
    for (const name of [s.openssl, s.iana, s.gnutls]) if (name !== null) primaryNames.set(name, s.code);
  }

  test('each alias names an existing row and is not another row’s name', () => {
    for (const a of CIPHER_ALIASES) {
      byCode(a.code);
      const owner = primaryNames.get(a.alias);
      assert.ok(owner === undefined || owner === a.code, `${a.alias} is the name of ${owner}`);
      assert.equal(lookupCipher(a.alias)?.code, a.code, a.alias);
    }
  });

  test('GnuTLS aliases are historic spellings of suites GnuTLS still has', () => {
    for (const a of CIPHER_ALIASES.filter((x) => x.library === 'gnutls')) {
      assert.notEqual(byCode(a.code).gnutls, null, a.alias);
      assert.equal(lookupCipher(`TLS_${a.alias}`)?.code, a.code);
    }
  });

  test('documented spellings map to the current names', () => {
    const cases: [string, string][] = [
      ['EDH-DSS-CBC-SHA', 'EDH-DSS-DES-CBC-SHA'],
      ['EDH-RSA-DES-CBC3-SHA', 'DHE-RSA-DES-CBC3-SHA'],
      ['EDH-DSS-DES-CBC3-SHA', 'DHE-DSS-DES-CBC3-SHA'],
      ['GOST2012-GOST8912-GOST8912', 'LEGACY-GOST2012-GOST8912-GOST8912'],
      ['GOST2012256-NULL-STREEBOG256', 'GOST2012-NULL-GOST12'],
      ['RSA_ARCFOUR_SHA', 'RC4-SHA'],
      ['DHE_RSA_AES_256_CBC_SHA', 'DHE-RSA-AES256-SHA'],
      ['PSK_SHA_AES_128_CBC_SHA1', 'PSK-AES128-CBC-SHA'],
      ['ECDHE_RSA_AES_128_CBC_SHA', 'ECDHE-RSA-AES128-SHA'],
      ['ANON_DH_AES_256_CBC_SHA1', 'ADH-AES256-SHA'],
    ];
    for (const [alias, current] of cases) assert.equal(openssl(alias), current, alias);
  });

  test('the -OLD ChaCha20 drafts are rated as their RFC code points', () => {
    assert.equal(lookupCipher('ECDHE-RSA-CHACHA20-POLY1305-OLD')?.code, '0xCC,0xA8');
    assert.equal(lookupCipher('ECDHE-ECDSA-CHACHA20-POLY1305-OLD')?.code, '0xCC,0xA9');
    assert.equal(lookupCipher('DHE-RSA-CHACHA20-POLY1305-OLD')?.code, '0xCC,0xAA');
    for (const a of CIPHER_ALIASES.filter((x) => x.draftCode !== undefined)) {
      assert.equal(
        CIPHER_SUITES.some((s) => s.code === a.draftCode),
        false,
        `${a.draftCode} is not a row`,
      );
    }
  });
});

describe('spellings from the shared corpus', () => {
  test('Postfix: the names the brief lists, and every `with cipher` in the Postfix logs', () => {
    const listed = [
      'ECDHE-RSA-AES256-GCM-SHA384',
      'DHE-RSA-AES256-SHA',
      'AES128-SHA',
      'DES-CBC3-SHA',
      'ADH-AES256-GCM-SHA384',
      'AECDH-AES256-SHA',
      'TLS_AES_256_GCM_SHA384',
    ];
    const logs = readCorpus('real/postfix.log') + readCorpus('generated/postfix/maillog');
    const logged = [...logs.matchAll(/ with cipher (\S+)/g)].map((m) => m[1] ?? '');
    for (const name of listed) assert.ok(logged.includes(name), `${name} not in the Postfix corpus`);
    for (const name of new Set(logged)) assert.equal(openssl(name), name, name);
  });

  interface TruthEvent {
    log_protocol?: string;
    log_cipher?: string;
    protocol?: string;
    cipher?: string;
  }
  function truthEvents(mta: string): TruthEvent[] {
    const truth = JSON.parse(readCorpus(`generated/${mta}/truth.json`)) as {
      sessions: { expected_events?: TruthEvent[] }[];
    };
    return truth.sessions.flatMap((s) => s.expected_events ?? []).filter((e) => e.log_cipher !== undefined);
  }

  test('Exim+GnuTLS descriptions in generated/exim/mainlog map to the OpenSSL names in truth.json', () => {
    const events = truthEvents('exim');
    const expected = new Map(events.map((e) => [`${e.log_protocol}:${e.log_cipher}`, e]));
    const seen = [...readCorpus('generated/exim/mainlog').matchAll(/ X=([^:\s]+):(\S+):\d+/g)];
    assert.ok(seen.length >= 10);
    for (const [, logProtocol = '', logCipher = ''] of seen) {
      const truth = expected.get(`${logProtocol}:${logCipher}`);
      assert.ok(truth, `X=${logProtocol}:${logCipher} has no truth event`);
      const protocol = normaliseProtocol(logProtocol);
      assert.equal(protocol, truth.protocol, logProtocol);
      const suite = lookupCipherFor(protocol, logCipher);
      assert.equal(suite?.openssl ?? null, truth.cipher, `${logProtocol} ${logCipher}`);
    }
    for (const e of events) {
      const suite = lookupCipherFor(normaliseProtocol(e.log_protocol ?? ''), e.log_cipher ?? '');
      assert.equal(suite?.openssl ?? null, e.cipher, `${e.log_protocol} ${e.log_cipher}`);
    }
  });

  test('the TLS 1.3 description needs the protocol: without it, it reads as the TLS 1.2 suite', () => {
    const text = 'ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_256_GCM';
    assert.equal(lookupCipherFor('TLSv1.3', text)?.openssl, 'TLS_AES_256_GCM_SHA384');
    assert.equal(lookupCipherFor('TLSv1.2', text)?.openssl, 'ECDHE-RSA-AES256-GCM-SHA384');
    assert.equal(lookupCipher(text)?.openssl, 'ECDHE-RSA-AES256-GCM-SHA384');
  });

  test('every X= cipher in real/exim.log', () => {
    // No truth file for real logs: the expectations are written out. `ke-RSA-AES256-SHAnnn` and `...)` are
    // Exim test-suite munging and a truncated quote, not ciphers.
    const expected = new Map<string, string | null>([
      ['TLSv1:AES256-SHA', 'AES256-SHA'],
      ['TLSv1:DHE-RSA-AES256-SHA', 'DHE-RSA-AES256-SHA'],
      ['TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384', 'ECDHE-RSA-AES256-GCM-SHA384'],
      ['TLS1.3:TLS_AES_256_GCM_SHA384', 'TLS_AES_256_GCM_SHA384'],
      ['TLS1.x:ke-RSA-AES256-SHAnnn', null],
      ['TLSv1:...)', null],
    ]);
    const seen = [...readCorpus('real/exim.log').matchAll(/ X=([^:\s]+):([^:\s]+)/g)];
    assert.ok(seen.length >= 10);
    for (const [, logProtocol = '', logCipher = ''] of seen) {
      const key = `${logProtocol}:${logCipher}`;
      assert.ok(expected.has(key), `unexpected X=${key}: add it to this table`);
      const suite = lookupCipherFor(normaliseProtocol(logProtocol), logCipher);
      assert.equal(suite?.openssl ?? null, expected.get(key), key);
    }
  });

  test('Sendmail, Dovecot and OpenSMTPD truth files', () => {
    for (const mta of ['sendmail', 'dovecot', 'opensmtpd']) {
      if (!existsSync(path.join(corpus, 'generated', mta, 'truth.json'))) continue;
      for (const e of truthEvents(mta)) {
        assert.equal(normaliseProtocol(e.log_protocol ?? ''), e.protocol, `${mta} ${e.log_protocol}`);
        assert.equal(openssl(e.log_cipher ?? ''), e.cipher, `${mta} ${e.log_cipher}`);
      }
    }
  });
});

describe('GnuTLS session descriptions (data/README.md §3.2)', () => {
  const cases: [Protocol, string, string | null][] = [
    ['TLSv1.2', 'ECDHE_SECP256R1__RSA_SHA256__AES_128_CBC__SHA256', 'ECDHE-RSA-AES128-SHA256'],
    ['TLSv1.3', 'ECDHE_SECP256R1__RSA_PSS_RSAE_SHA256__AES_256_GCM__AEAD', 'TLS_AES_256_GCM_SHA384'],
    ['TLSv1.2', 'ECDHE_SECP384R1__ECDSA_SECP384R1_SHA384__AES_256_GCM', 'ECDHE-ECDSA-AES256-GCM-SHA384'],
    ['TLSv1.2', 'ECDHE_X25519__EDDSA_ED25519__CHACHA20_POLY1305', 'ECDHE-ECDSA-CHACHA20-POLY1305'],
    ['TLSv1.2', 'DHE_FFDHE3072__DSA_SHA256__AES_256_CBC__SHA256', 'DHE-DSS-AES256-SHA256'],
    ['TLSv1', 'RSA__3DES_CBC__SHA1', 'DES-CBC3-SHA'],
    ['SSLv3', 'RSA__ARCFOUR_128__MD5', 'RC4-MD5'],
    ['TLSv1.2', 'ANON_DH__AES_256_GCM', 'ADH-AES256-GCM-SHA384'],
    ['TLSv1.2', 'PSK__AES_128_GCM', 'PSK-AES128-GCM-SHA256'],
    ['TLSv1.2', 'RSA_PSK__AES_256_GCM', 'RSA-PSK-AES256-GCM-SHA384'],
    ['TLSv1', 'SRP_RSA__AES_128_CBC__SHA1', 'SRP-RSA-AES-128-CBC-SHA'],
    ['TLSv1.3', 'ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_128_CCM', 'TLS_AES_128_CCM_SHA256'],
    ['TLSv1.3', 'DHE_PSK_FFDHE2048__AES_128_GCM', 'TLS_AES_128_GCM_SHA256'],
    // TLS 1.3-only key exchanges imply TLS 1.3 even when the protocol is not known.
    ['unknown', 'HYBRID_X25519_MLKEM768__RSA_PSS_RSAE_SHA256__AES_256_GCM', 'TLS_AES_256_GCM_SHA384'],
    // GnuTLS cuts the description at 63 bytes (lib/session.c DESC_SIZE): a cut-off last name still resolves.
    ['TLSv1.3', 'ECDHE_SECP256R1__RSA_PSS_RSAE_SHA256__CHACHA20_POLY', 'TLS_CHACHA20_POLY1305_SHA256'],
    // Case-insensitive like every other spelling.
    ['TLSv1.2', 'ecdhe_x25519__rsa_pss_rsae_sha256__aes_128_gcm', 'ECDHE-RSA-AES128-GCM-SHA256'],
    // Malformed descriptions.
    ['TLSv1.2', 'ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_128_GCM__SHA256__X', null],
    ['TLSv1.2', 'ECDHE_X25519__BOGUS__AES_128_GCM', null],
    ['TLSv1.2', 'FOO_X25519__RSA_SHA256__AES_128_GCM', null],
    ['TLSv1.2', 'RSA__AES_128_CBC__WHIRLPOOL', null],
    ['TLSv1.2', 'ECDHE__AES_128_GCM', null],
    ['TLSv1.2', 'RSA____AES_128_CBC', null],
  ];
  for (const [protocol, text, expected] of cases) {
    test(`${protocol} ${text}`, () => assert.equal(lookupCipherFor(protocol, text)?.openssl ?? null, expected));
  }

  test('no signature leaves the authentication open: the lower-rated candidate wins, RSA among equals', () => {
    // ECDHE-RSA (secure) vs ECDHE-ECDSA (recommended) vs ECDHE-PSK: secure is the lowest.
    assert.equal(lookupCipherFor('TLSv1.2', 'ECDHE_X25519__AES_128_GCM')?.code, '0xC0,0x2F');
    // All weak: RSA is preferred over ECDSA and PSK.
    assert.equal(lookupCipherFor('TLSv1', 'ECDHE_X25519__AES_128_CBC__SHA1')?.code, '0xC0,0x13');
    // DHE: RSA and DSS twins are both weak.
    assert.equal(lookupCipherFor('TLSv1', 'DHE_CUSTOM2048__AES_256_CBC__SHA1')?.code, '0x00,0x39');
  });
});

describe('ratings (data/README.md §2)', () => {
  test('the examples of §2', () => {
    const rating = (name: string): string | undefined => lookupCipher(name)?.rating;
    assert.equal(rating('ECDHE-RSA-AES256-GCM-SHA384'), 'secure');
    assert.equal(rating('ECDHE-RSA-CHACHA20-POLY1305'), 'secure');
    assert.equal(rating('ECDHE-ECDSA-AES256-GCM-SHA384'), 'recommended');
    assert.equal(rating('ECDHE-ECDSA-CHACHA20-POLY1305'), 'recommended');
    assert.equal(rating('DHE-RSA-AES256-GCM-SHA384'), 'weak');
    assert.equal(rating('DES-CBC3-SHA'), 'weak');
    assert.equal(rating('TLS_AES_128_CCM_SHA256'), 'secure');
    assert.equal(rating('TLS_AES_128_CCM_8_SHA256'), 'secure');
    assert.equal(rating('TLS_AES_256_GCM_SHA384'), 'recommended');
    assert.equal(rating('TLS_CHACHA20_POLY1305_SHA256'), 'recommended');
    assert.equal(rating('TLS_AEGIS_256_SHA384'), 'recommended');
    assert.equal(rating('ADH-AES256-GCM-SHA384'), 'insecure');
    assert.equal(rating('RC4-SHA'), 'insecure');
  });

  test('SSLv3 + DHE-RSA-AES256-SHA: suite weak, protocol insecure → insecure', () => {
    const r = rateHandshake('SSLv3', 'DHE-RSA-AES256-SHA');
    assert.deepEqual(
      { cipher: r.cipherRating, protocol: r.protocolRating, rating: r.rating, iana: r.iana, openssl: r.openssl },
      {
        cipher: 'weak',
        protocol: 'insecure',
        rating: 'insecure',
        iana: 'TLS_DHE_RSA_WITH_AES_256_CBC_SHA',
        openssl: 'DHE-RSA-AES256-SHA',
      },
    );
  });

  test('the counts of §2: insecure 107, weak 224, secure 17, recommended 17', () => {
    const counts: Record<string, number> = {};
    for (const s of CIPHER_SUITES) counts[s.rating] = (counts[s.rating] ?? 0) + 1;
    assert.deepEqual(counts, { insecure: 107, weak: 224, secure: 17, recommended: 17 });
  });

  test('every row’s rating follows the §2 decision table', () => {
    const GOST_MACS = ['GOST28147_IMIT', 'GOST94', 'STREEBOG256', 'KUZNYECHIK_OMAC', 'MAGMA_OMAC'];
    const decide = (s: CipherSuite): SuiteRating => {
      const high =
        (s.iana?.includes('_EXPORT') ?? false) ||
        (s.openssl?.startsWith('EXP1024') ?? false) ||
        (s.encBits > 0 && s.encBits < 112) ||
        s.auth === 'anon' ||
        s.auth === 'NULL' ||
        s.enc === 'NULL' ||
        ['RC4', 'RC2_CBC', 'DES_CBC'].includes(s.enc) ||
        s.mac === 'MD5' ||
        s.enc.startsWith('SM4') ||
        s.kx === 'GOST' ||
        s.auth === 'GOST' ||
        /^(GOST28147|KUZNYECHIK|MAGMA)/.test(s.enc) ||
        GOST_MACS.includes(s.mac);
      const medium =
        s.mac === 'SHA1' ||
        s.enc.endsWith('_CBC') ||
        ['RSA', 'DH', 'ECDH', 'KRB5', 'PSK', 'RSA_PSK', 'NULL'].includes(s.kx) ||
        ['DHE', 'DHE_PSK'].includes(s.kx);
      if (high) return 'insecure';
      if (medium) return 'weak';
      if (s.auth !== 'RSA' && s.enc !== 'AES_CCM' && s.enc !== 'AES_CCM_8') return 'recommended';
      return 'secure';
    };
    for (const s of CIPHER_SUITES) assert.equal(s.rating, decide(s), `${s.code} ${s.iana ?? s.openssl}`);
  });

  test('protocol ratings and legacy flags', () => {
    const expected: [Protocol, Rating, boolean][] = [
      ['SSLv2', 'insecure', true],
      ['SSLv3', 'insecure', true],
      ['TLSv1', 'weak', true],
      ['TLSv1.1', 'weak', true],
      ['TLSv1.2', 'recommended', false],
      ['TLSv1.3', 'recommended', false],
      ['unknown', 'unknown', false],
    ];
    for (const [p, rating, legacy] of expected) {
      assert.equal(rateProtocol(p), rating, p);
      assert.equal(isLegacyProtocol(p), legacy, p);
    }
  });

  test('worseRating: the worse of two known ratings; unknown yields to the other side', () => {
    const order: Rating[] = ['insecure', 'weak', 'secure', 'recommended'];
    for (const [i, a] of order.entries()) {
      for (const [j, b] of order.entries()) assert.equal(worseRating(a, b), order[Math.min(i, j)]);
      assert.equal(worseRating(a, 'unknown'), a);
      assert.equal(worseRating('unknown', a), a);
    }
    assert.equal(worseRating('unknown', 'unknown'), 'unknown');
  });

  test('rateHandshake combines both sides; an unknown cipher is never lifted by a protocol without penalty', () => {
    const r = (p: Protocol, c: string): Rating => rateHandshake(p, c).rating;
    assert.equal(r('TLSv1.2', 'ECDHE-RSA-AES256-GCM-SHA384'), 'secure');
    assert.equal(r('TLSv1.3', 'TLS_AES_256_GCM_SHA384'), 'recommended');
    assert.equal(r('TLSv1', 'ECDHE-RSA-AES256-GCM-SHA384'), 'weak');
    assert.equal(r('TLSv1.2', 'RC4-MD5'), 'insecure');
    assert.equal(r('unknown', 'DHE-RSA-AES256-SHA'), 'weak'); // Sendmail's TLSv1/SSLv3: the cipher decides
    assert.equal(r('TLSv1.2', 'ECDHE-RSA-something'), 'unknown');
    assert.equal(r('TLSv1.3', 'no-such-cipher'), 'unknown');
    assert.equal(r('TLSv1', 'no-such-cipher'), 'weak');
    assert.equal(r('SSLv3', 'no-such-cipher'), 'insecure');
    assert.equal(r('unknown', 'no-such-cipher'), 'unknown');
    assert.equal(
      rateHandshake('TLSv1.3', 'ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_128_GCM').iana,
      'TLS_AES_128_GCM_SHA256',
    );
  });

  test('rateHandshake is memoised per (protocol, cipher) and its result is frozen', () => {
    const a = rateHandshake('TLSv1.2', 'ECDHE-RSA-AES128-GCM-SHA256');
    assert.equal(rateHandshake('TLSv1.2', 'ECDHE-RSA-AES128-GCM-SHA256'), a);
    assert.notEqual(rateHandshake('TLSv1', 'ECDHE-RSA-AES128-GCM-SHA256'), a);
    assert.ok(Object.isFrozen(a));
  });
});

describe('protocol spellings', () => {
  const cases: [string, Protocol][] = [
    ['SSLv3', 'SSLv3'],
    ['TLSv1', 'TLSv1'],
    ['TLSv1.0', 'TLSv1'],
    ['TLSv1.1', 'TLSv1.1'],
    ['TLSv1.2', 'TLSv1.2'],
    ['TLSv1.3', 'TLSv1.3'],
    ['TLS1.0', 'TLSv1'],
    ['TLS1.1', 'TLSv1.1'],
    ['TLS1.2', 'TLSv1.2'],
    ['TLS1.3', 'TLSv1.3'],
    ['TLS-1.0', 'TLSv1'],
    ['SSL3.0', 'SSLv3'],
    ['SSLv2', 'SSLv2'],
    ['tlsv1.2', 'TLSv1.2'],
    ['tls1.3', 'TLSv1.3'],
    ['TLS1.2-RAWPK', 'TLSv1.2'],
    ['SP_PROT_TLS1_2_SERVER', 'TLSv1.2'],
    ['SP_PROT_TLS1_0_CLIENT', 'TLSv1'],
    ['SP_PROT_TLS1_SERVER', 'TLSv1'],
    ['TLSv1/SSLv3', 'unknown'],
    ['TLS1.x', 'unknown'],
    ['DTLS1.2', 'unknown'],
    ['TLSv1.4', 'unknown'],
    ['', 'unknown'],
    ['constructor', 'unknown'],
    ['__proto__', 'unknown'],
  ];
  for (const [raw, expected] of cases) test(JSON.stringify(raw), () => assert.equal(normaliseProtocol(raw), expected));
});

describe('Schannel / Exchange (data/README.md §4.3)', () => {
  const codes = (
    protocol: Protocol,
    bulk: string,
    bulkBits: number,
    hash: string,
    hashBits: number,
    kx: string,
  ): string[] => schannelCandidates(protocol, bulk, bulkBits, hash, hashBits, kx).map((s) => s.code);

  // [protocol, cipher, bits, hash, hash bits, key exchange, candidates worst first]
  const rows: [Protocol, string, number, string, number, string, string[]][] = [
    ['TLSv1.3', 'CALG_AES_256', 256, 'CALG_SHA_384', 0, 'CALG_ECDH_EPHEM', ['0x13,0x02']],
    ['TLSv1.3', 'CALG_AES_128', 128, 'CALG_SHA_256', 0, 'CALG_ECDH_EPHEM', ['0x13,0x01']],
    ['TLSv1.2', 'CALG_AES_256', 256, 'CALG_SHA_384', 0, 'CALG_ECDH_EPHEM', ['0xC0,0x30', '0xC0,0x2C']],
    ['TLSv1.2', 'CALG_AES_256', 256, 'CALG_SHA_384', 0, 'CALG_ECDHE', ['0xC0,0x30', '0xC0,0x2C']],
    ['TLSv1.2', 'CALG_AES_128', 128, 'CALG_SHA_256', 0, 'CALG_ECDH_EPHEM', ['0xC0,0x2F', '0xC0,0x2B']],
    ['TLSv1.2', 'CALG_AES_256', 256, 'CALG_SHA_384', 384, 'CALG_ECDH_EPHEM', ['0xC0,0x28', '0xC0,0x24']],
    ['TLSv1.2', 'CALG_AES_128', 128, 'CALG_SHA_256', 256, 'CALG_ECDH_EPHEM', ['0xC0,0x27', '0xC0,0x23']],
    ['TLSv1', 'CALG_AES_256', 256, 'CALG_SHA1', 160, 'CALG_ECDH_EPHEM', ['0xC0,0x14', '0xC0,0x0A']],
    ['TLSv1.2', 'CALG_AES_128', 128, 'CALG_SHA1', 160, 'CALG_ECDH_EPHEM', ['0xC0,0x13', '0xC0,0x09']],
    ['TLSv1.1', 'CALG_3DES', 168, 'CALG_SHA1', 160, 'CALG_ECDH_EPHEM', ['0xC0,0x12', '0xC0,0x08']],
    ['TLSv1.2', 'CALG_AES_256', 256, 'CALG_SHA_384', 0, 'CALG_DH_EPHEM', ['0x00,0x9F', '0x00,0xA3']],
    ['TLSv1.2', 'CALG_AES_128', 128, 'CALG_SHA_256', 0, 'CALG_DH_EPHEM', ['0x00,0x9E', '0x00,0xA2']],
    ['TLSv1.2', 'CALG_AES_256', 256, 'CALG_SHA_256', 256, 'CALG_DH_EPHEM', ['0x00,0x6B', '0x00,0x6A']],
    ['TLSv1.2', 'CALG_AES_128', 128, 'CALG_SHA_256', 256, 'CALG_DH_EPHEM', ['0x00,0x67', '0x00,0x40']],
    ['SSLv3', 'CALG_AES_256', 256, 'CALG_SHA1', 160, 'CALG_DH_EPHEM', ['0x00,0x39', '0x00,0x38']],
    ['TLSv1.2', 'CALG_AES_128', 128, 'CALG_SHA1', 160, 'CALG_DH_EPHEM', ['0x00,0x33', '0x00,0x32']],
    ['TLSv1', 'CALG_3DES', 168, 'CALG_SHA1', 160, 'CALG_DH_EPHEM', ['0x00,0x16', '0x00,0x13']],
    ['TLSv1.2', 'CALG_AES_256', 256, 'CALG_SHA_384', 0, 'CALG_RSA_KEYX', ['0x00,0x9D']],
    ['TLSv1.2', 'CALG_AES_128', 128, 'CALG_SHA_256', 0, 'CALG_RSA_KEYX', ['0x00,0x9C']],
    ['TLSv1.2', 'CALG_AES_256', 256, 'CALG_SHA_256', 256, 'CALG_RSA_KEYX', ['0x00,0x3D']],
    ['TLSv1.2', 'CALG_AES_128', 128, 'CALG_SHA_256', 256, 'CALG_RSA_KEYX', ['0x00,0x3C']],
    ['SSLv3', 'CALG_AES_256', 256, 'CALG_SHA1', 160, 'CALG_RSA_KEYX', ['0x00,0x35']],
    ['TLSv1', 'CALG_AES_128', 128, 'CALG_SHA1', 160, 'CALG_RSA_KEYX', ['0x00,0x2F']],
    ['TLSv1.2', 'CALG_3DES', 168, 'CALG_SHA1', 160, 'CALG_RSA_KEYX', ['0x00,0x0A']],
    ['TLSv1', 'CALG_RC4', 128, 'CALG_SHA1', 160, 'CALG_RSA_KEYX', ['0x00,0x05']],
    ['TLSv1', 'CALG_RC4', 128, 'CALG_MD5', 128, 'CALG_RSA_KEYX', ['0x00,0x04']],
    ['SSLv3', 'CALG_RC4', 56, 'CALG_SHA1', 160, 'CALG_RSA_KEYX', ['0x00,0x64']],
    ['SSLv3', 'CALG_RC4', 40, 'CALG_MD5', 128, 'CALG_RSA_KEYX', ['0x00,0x03']],
    ['SSLv3', 'CALG_DES', 56, 'CALG_SHA1', 160, 'CALG_RSA_KEYX', ['0x00,0x09', '0x00,0x62']],
    ['SSLv3', 'CALG_DES', 40, 'CALG_SHA1', 160, 'CALG_RSA_KEYX', ['0x00,0x08']],
    ['TLSv1.2', 'CALG_NULLCIPHER', 0, 'CALG_SHA1', 160, 'CALG_RSA_KEYX', ['0x00,0x02']],
    ['TLSv1.2', 'CALG_NULLCIPHER', 0, 'CALG_SHA_256', 256, 'CALG_RSA_KEYX', ['0x00,0x3B']],
    ['TLSv1', 'CALG_NULLCIPHER', 0, 'CALG_MD5', 128, 'CALG_RSA_KEYX', ['0x00,0x01']],
    // .NET prints a bare number for an enum value it has no name for.
    ['TLSv1.2', '26128', 256, '32781', 0, '44550', ['0xC0,0x30', '0xC0,0x2C']],
    // CBC-SHA384 does not exist before TLS 1.2; unmapped names give no candidates.
    ['TLSv1', 'CALG_AES_256', 256, 'CALG_SHA_384', 384, 'CALG_ECDH_EPHEM', []],
    ['TLSv1.2', 'CALG_SKIPJACK', 80, 'CALG_SHA1', 160, 'CALG_RSA_KEYX', []],
    ['TLSv1.2', 'CALG_AES_128', 128, 'CALG_SHA_256', 0, '12345', []],
    ['SSLv2', 'CALG_RC4', 128, 'CALG_MD5', 128, 'CALG_RSA_KEYX', []],
  ];
  for (const [protocol, bulk, bulkBits, hash, hashBits, kx, expected] of rows) {
    test(`${protocol} ${bulk} ${hash}(${hashBits}) ${kx}`, () =>
      assert.deepEqual(codes(protocol, bulk, bulkBits, hash, hashBits, kx), expected));
  }

  test('the "negotiation succeeded" lines of real/exchange.log', () => {
    const line =
      /TLS protocol (\S+) negotiation succeeded using bulk encryption algorithm (\S+) with strength (\d+) bits, MAC hash algorithm (\S+) with strength (\d+) bits and key exchange algorithm (\S+) with strength \d+ bits/g;
    const seen = [...readCorpus('real/exchange.log').matchAll(line)];
    assert.ok(seen.length >= 2);
    for (const [, prot = '', bulk = '', bulkBits = '', hash = '', hashBits = '', kx = ''] of seen) {
      const protocol = normaliseProtocol(prot);
      assert.notEqual(protocol, 'unknown', prot);
      const candidates = schannelCandidates(protocol, bulk, Number(bulkBits), hash, Number(hashBits), kx);
      assert.ok(candidates.length > 0, `${prot} ${bulk} ${hash} ${kx}`);
    }
    assert.deepEqual(codes('TLSv1.2', 'CALG_AES_128', 128, 'CALG_SHA_256', 0, 'CALG_ECDH_EPHEM'), [
      '0xC0,0x2F',
      '0xC0,0x2B',
    ]);
    assert.deepEqual(codes('TLSv1', 'CALG_AES_256', 256, 'CALG_SHA1', 160, 'CALG_ECDHE'), ['0xC0,0x14', '0xC0,0x0A']);
  });

  test('callers get their own array', () => {
    const first = schannelCandidates('TLSv1.2', 'CALG_AES_128', 128, 'CALG_SHA_256', 0, 'CALG_ECDH_EPHEM');
    first.length = 0;
    assert.equal(schannelCandidates('TLSv1.2', 'CALG_AES_128', 128, 'CALG_SHA_256', 0, 'CALG_ECDH_EPHEM').length, 2);
  });
});

describe('garbage never throws', () => {
  const junk = [
    '',
    ' ',
    '__',
    '____',
    'ECDHE',
    'ECDHE_',
    'ECDHE_X25519__',
    '__AES_128_GCM',
    'constructor',
    '__proto__',
    'toString',
    'hasOwnProperty',
    'ECDHE-RSA-AES256-GCM-SHA384 ',
    'ECDHE-RSA-AES256-GCM-SHA3840',
    '\u0000',
    '\u001b[31mRC4-MD5',
    'A'.repeat(100_000),
    `${'__'.repeat(5000)}AES_128_GCM`,
    '💥',
  ];

  test('fixed junk returns null', () => {
    for (const s of junk) {
      if (s === 'ECDHE-RSA-AES256-GCM-SHA384 ') continue; // trimmed: a real name
      assert.equal(lookupCipher(s), null, JSON.stringify(s.slice(0, 40)));
      assert.equal(lookupCipherFor('TLSv1.3', s), null);
      assert.equal(normaliseProtocol(s), 'unknown');
      assert.equal(rateHandshake('TLSv1.2', s).rating, 'unknown');
      assert.deepEqual(schannelCandidates('TLSv1.2', s, 128, s, 0, s), []);
    }
    assert.equal(lookupCipher('ECDHE-RSA-AES256-GCM-SHA384 ')?.code, '0xC0,0x30');
  });

  test('values that are not strings (from untyped callers)', () => {
    for (const v of [undefined, null, 42, {}, [], Symbol('x')]) {
      const s = v as unknown as string;
      assert.equal(lookupCipher(s), null);
      assert.equal(normaliseProtocol(s), 'unknown');
      assert.equal(rateHandshake('TLSv1.2', s).rating, 'unknown');
      assert.deepEqual(schannelCandidates('TLSv1.2', s, 0, s, 0, s), []);
      assert.equal(rateHandshake(s as unknown as Protocol, 'RC4-MD5').rating, 'insecure');
    }
  });

  test('random strings and spliced GnuTLS tokens (fast-check)', () => {
    const tokens = fc.constantFrom(
      'ECDHE_X25519',
      'DHE_CUSTOM2048',
      'RSA',
      'PSK',
      'ANON_DH',
      'HYBRID_X',
      'RSA_PSS_RSAE_SHA256',
      'ECDSA_SECP256R1_SHA256',
      'AES_128_GCM',
      'AES_256_CBC',
      'CHACHA20_POLY',
      'SHA1',
      'SHA',
      'AEAD',
      '',
      '_',
    );
    const spliced = fc.array(tokens, { maxLength: 6 }).map((parts) => parts.join('__'));
    const text = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'grapheme', maxLength: 40 }), spliced);
    const protocol = fc.constantFrom<Protocol>('SSLv3', 'TLSv1', 'TLSv1.2', 'TLSv1.3', 'unknown');
    fc.assert(
      fc.property(protocol, text, fc.integer(), (p, s, n) => {
        const suite = lookupCipherFor(p, s);
        assert.ok(suite === null || CIPHER_SUITES.includes(suite));
        const rated = rateHandshake(p, s);
        assert.equal(rated.suite, suite);
        normaliseProtocol(s);
        for (const c of schannelCandidates(p, s, n, s, n, s)) assert.ok(CIPHER_SUITES.includes(c));
      }),
      { numRuns: 3000 },
    );
  });
});

test('BoundedCache keeps at most its capacity and forgets the oldest entry first', () => {
  const cache = new BoundedCache<string, number | null>(3);
  for (const [i, key] of ['a', 'b', 'c', 'd'].entries()) cache.set(key, i);
  assert.equal(cache.size, 3);
  assert.equal(cache.get('a'), undefined);
  assert.equal(cache.get('d'), 3);
  cache.set('b', null); // overwriting does not evict
  assert.equal(cache.size, 3);
  assert.equal(cache.get('b'), null);
  assert.equal(cache.get('c'), 2);
});
