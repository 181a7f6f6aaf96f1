// The cipher-string evaluator against the real thing: `openssl ciphers -v STRING` of the machine's OpenSSL 3.0
// (in CI: Debian 12, OpenSSL 3.0.x). Sets and order are compared; only a missing `openssl` binary skips the oracle.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CIPHER_SUITES } from '../../src/ciphers/suites.generated.js';
import { parseMainCf } from '../../src/policy/main-cf.js';
import {
  evaluateOpensslCipherString,
  OPENSSL_3_0_DEBIAN,
  type OpensslBuild,
  opensslCipherUniverse,
} from '../../src/policy/openssl-cipher-string.js';
import { derivePostfixTlsPolicy } from '../../src/policy/postfix-tls-policy.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/main-cf');

const probe = spawnSync('openssl', ['version'], { encoding: 'utf8' });
const OPENSSL_VERSION = probe.error ? null : probe.stdout.trim();
const SKIP = OPENSSL_VERSION === null ? 'openssl binary not found: oracle comparison skipped' : false;
const LEGACY_PROVIDER =
  OPENSSL_VERSION !== null &&
  spawnSync('openssl', ['list', '-providers', '-provider', 'legacy'], { encoding: 'utf8' }).status === 0;

/** OpenSSL's TLS ≤ 1.2 list for `spec` (TLS 1.3 suites always come first and are configured separately). */
function opensslList(spec: string, providers: string[] = []): string[] {
  const run = spawnSync('openssl', ['ciphers', ...providers, '-v', spec], { encoding: 'utf8' });
  // "no cipher match" (and any rejected string) exits non-zero: OpenSSL sets no list at all.
  if (run.status !== 0) return [];
  return run.stdout
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[1] !== 'TLSv1.3')
    .map((fields) => fields[0] ?? '');
}

function ours(spec: string, build: OpensslBuild = OPENSSL_3_0_DEBIAN): string[] {
  return evaluateOpensslCipherString(spec, { build }).ciphers.map((c) => c.openssl ?? c.code);
}

function assertSameList(spec: string, providers: string[] = [], build: OpensslBuild = OPENSSL_3_0_DEBIAN): void {
  const expected = opensslList(spec, providers);
  const actual = ours(spec, build);
  const missing = expected.filter((n) => !actual.includes(n));
  const extra = actual.filter((n) => !expected.includes(n));
  assert.deepEqual(
    { missing, extra },
    { missing: [], extra: [] },
    `set differs for ${JSON.stringify(spec)} (${OPENSSL_VERSION})`,
  );
  assert.deepEqual(actual, expected, `order differs for ${JSON.stringify(spec)} (${OPENSSL_VERSION})`);
}

// Postfix 3.7 built-in grade lists (`postconf -d`, mail_params.h).
const POSTFIX_GRADES = {
  high: 'aNULL:-aNULL:HIGH:@STRENGTH',
  medium: 'aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH',
  low: 'aNULL:-aNULL:HIGH:MEDIUM:LOW:+RC4:@STRENGTH',
  export: 'aNULL:-aNULL:HIGH:MEDIUM:LOW:EXPORT:+RC4:@STRENGTH',
  null: 'eNULL:!aNULL',
};

const SEED_HIGH_LIST =
  'EDH+CAMELLIA:EDH+aRSA:EECDH+aRSA+AESGCM:EECDH+aRSA+SHA256:EECDH:+CAMELLIA128:+AES128:+SSLv3:!aNULL:!eNULL:!LOW:' +
  '!3DES:!MD5:!EXP:!PSK:!DSS:!RC4:!SEED:!IDEA:!ECDSA:kEDH:CAMELLIA128 -SHA:AES128-SHA';

const ORACLE_STRINGS = [
  ...Object.values(POSTFIX_GRADES),
  // Postfix appends exclusions as ":!token" (tls_misc.c tls_set_ciphers()).
  `${POSTFIX_GRADES.medium}:!aNULL:!eNULL:!EXPORT:!DES:!RC4:!MD5:!PSK:!aECDH:!EDH-DSS-DES-CBC3-SHA:!EDH-RSA-DES-CBC3-SHA:!KRB5-DES:!CBC3-SHA`,
  `${POSTFIX_GRADES.high}:!MD5:!aDSS:!kECDH:!kDH:!SEED:!IDEA:!DES:!ADH:!RC2:!RC4:!RC5:!PSD:!SRP:!3DES:!eNULL:!aNULL`,
  `${POSTFIX_GRADES.medium}:!eNULL`,
  `${POSTFIX_GRADES.high}:!aNULL`,
  SEED_HIGH_LIST,
  'HIGH:!aNULL',
  'HIGH:!aNULL:!MD5',
  'EECDH+AESGCM:EDH+AESGCM',
  'DEFAULT',
  'COMPLEMENTOFDEFAULT',
  'ALL',
  'ALL:COMPLEMENTOFALL',
  'COMPLEMENTOFALL',
  'ALL:!COMPLEMENTOFDEFAULT:!eNULL',
  'HIGH:MEDIUM:+AES128:!RC4',
  '@STRENGTH',
  'ALL:@STRENGTH',
  'HIGH:-AES:AES128',
  'HIGH:-AES:+AES128',
  'ALL:-DHE:ECDHE:DHE',
  'ALL:+kRSA:+aNULL',
  'AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256:HIGH',
  'ECDHE+AES+SHA:@STRENGTH',
  'HIGH+SHA256',
  'kEDH',
  'kDHE:kECDHE:kEECDH',
  'EDH:DHE:EECDH:ECDHE',
  'DH',
  'ECDH',
  'aRSA',
  'aDSS:DSS',
  'aECDSA:ECDSA',
  'RSA',
  'kRSA',
  'ADH:AECDH',
  'aNULL',
  'eNULL:NULL',
  'PSK',
  'SRP',
  'AES',
  'AES128:AES256',
  'AESGCM',
  'AESCCM',
  'AESCCM8',
  'CHACHA20',
  'CAMELLIA',
  'CAMELLIA128:CAMELLIA256',
  'ARIA',
  'ARIAGCM:ARIA128:ARIA256',
  'CBC',
  'FIPS',
  'MD5',
  'SHA1',
  'SHA',
  'SHA256',
  'SHA384',
  'SSLv3',
  'TLSv1',
  'TLSv1.0',
  'TLSv1.2',
  'HIGH',
  'MEDIUM',
  'LOW',
  'EXPORT',
  'EXP',
  '3DES',
  'DES',
  'RC4',
  'RC2',
  'IDEA',
  'SEED',
  'kECDH:kDH:aECDH:KRB5',
  'SUITEB128',
  'SUITEB128ONLY',
  'SUITEB128C2',
  'SUITEB192',
  'SUITEB192:HIGH',
  'DEFAULT@SECLEVEL=0',
  'DEFAULT:@SECLEVEL=3',
  'DEFAULT:!AES128',
  'DEFAULTS',
  'HIGH:DEFAULT',
  'HIGH:@SECLEVEL=7',
  'HIGH:@FOO',
  'HIGH:!',
  'HIGH+',
  'HIGH!aNULL',
  'HIGH:foo_bar',
  'HIGH+MEDIUM',
  'AES256-SHA+kRSA',
  'AES256-SHA+kEDH',
  'EDH-RSA-DES-CBC3-SHA',
  'DES-CBC3-SHA:RC4-SHA:AES128-SHA',
  'ALL::!aNULL,,!eNULL;  @STRENGTH',
  '!aNULL:HIGH',
  // A leading ':' keeps the openssl command line from reading "-aNULL" as an option; OpenSSL skips separators.
  ':-aNULL:aNULL',
  'aNULL:-aNULL:HIGH:+aNULL',
  'HIGH:high',
];

describe('OpenSSL cipher strings: oracle `openssl ciphers -v`', { skip: SKIP }, () => {
  for (const spec of ORACLE_STRINGS) {
    it(`matches OpenSSL for ${JSON.stringify(spec)}`, () => assertSameList(spec));
  }

  it('matches OpenSSL on the lists Postfix builds from the fixtures', () => {
    for (const file of fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.cf'))) {
      const cf = parseMainCf(fs.readFileSync(path.join(FIXTURES, file), 'utf8'), { source: file });
      for (const direction of ['inbound', 'outbound'] as const) {
        const policy = derivePostfixTlsPolicy(cf, direction);
        for (const settings of [policy.opportunistic, policy.mandatory]) {
          const spec = settings.cipherPolicy.cipherString;
          if (spec !== null) assertSameList(spec);
        }
      }
    }
  });

  it('marks as errors exactly the strings OpenSSL rejects', () => {
    for (const spec of ORACLE_STRINGS) {
      const rejected = spawnSync('openssl', ['ciphers', spec], { encoding: 'utf8' }).status !== 0;
      const result = evaluateOpensslCipherString(spec);
      assert.equal(result.error !== null, rejected, `${JSON.stringify(spec)}: ${result.error ?? 'accepted'}`);
    }
  });
});

describe('OpenSSL cipher strings: oracle with the legacy provider', {
  skip: SKIP || (LEGACY_PROVIDER ? false : 'the legacy provider cannot be loaded: skipped'),
}, () => {
  const legacy: OpensslBuild = { ...OPENSSL_3_0_DEBIAN, legacyProvider: true };
  const providers = ['-provider', 'legacy', '-provider', 'default'];
  for (const spec of ['ALL:COMPLEMENTOFALL', POSTFIX_GRADES.medium, 'SEED', 'MEDIUM', 'COMPLEMENTOFDEFAULT', 'CBC']) {
    it(`matches OpenSSL for ${JSON.stringify(spec)}`, () => assertSameList(spec, providers, legacy));
  }
});

describe('OpenSSL cipher strings: which suites exist', () => {
  const names = (build: OpensslBuild) => new Set(opensslCipherUniverse({ build }).map((c) => c.openssl));

  it('has no TLS 1.3, export, single-DES, fixed-DH/ECDH, KRB5 or GOST suites', () => {
    const all = opensslCipherUniverse({ build: { weakSslCiphers: true, idea: true, legacyProvider: true } });
    for (const suite of all) {
      assert.notEqual(suite.minProtocol, 'TLSv1.3', suite.code);
      assert.ok(!['DH', 'ECDH', 'KRB5', 'GOST'].includes(suite.kx), `${suite.openssl} has kx ${suite.kx}`);
      assert.ok(!['DES_CBC', 'RC2_CBC'].includes(suite.enc), `${suite.openssl} has ${suite.enc}`);
      assert.ok(!suite.openssl?.startsWith('EXP'), `${suite.openssl} is an export suite`);
    }
  });

  it('needs enable-weak-ssl-ciphers for 3DES and RC4, the legacy provider for RC4 and SEED', () => {
    const debian = names(OPENSSL_3_0_DEBIAN);
    assert.ok(debian.has('AES128-SHA'));
    assert.ok(!debian.has('DES-CBC3-SHA'));
    assert.ok(!debian.has('SEED-SHA'));
    const weak = names({ weakSslCiphers: true, idea: false, legacyProvider: false });
    assert.ok(weak.has('DES-CBC3-SHA'));
    assert.ok(weak.has('ECDHE-RSA-DES-CBC3-SHA'));
    assert.ok(!weak.has('RC4-SHA'), 'RC4 needs the legacy provider as well');
    const legacy = names({ weakSslCiphers: true, idea: true, legacyProvider: true });
    assert.ok(legacy.has('RC4-SHA'));
    assert.ok(legacy.has('SEED-SHA'));
    assert.ok(legacy.has('IDEA-CBC-SHA'));
    assert.ok(!legacy.has('DES-CBC-SHA'), 'single DES was removed in OpenSSL 1.1.0');
  });

  it('takes every suite from the shared table (no hand-typed rows)', () => {
    const codes = new Set(CIPHER_SUITES.map((s) => s.code));
    for (const suite of opensslCipherUniverse()) assert.ok(codes.has(suite.code));
  });
});

describe('OpenSSL cipher strings: diagnostics', () => {
  const statusOf = (spec: string, text: string) =>
    evaluateOpensslCipherString(spec).elements.find((e) => e.text === text)?.status;

  it('reports tokens OpenSSL ignores', () => {
    const result = evaluateOpensslCipherString('HIGH:!EXP:!kECDH:!RC4:!FOO:DEFAULT');
    assert.equal(result.error, null);
    assert.equal(statusOf('HIGH:!EXP:!kECDH:!RC4:!FOO:DEFAULT', '!EXP'), 'unknown');
    assert.equal(statusOf('HIGH:!EXP:!kECDH:!RC4:!FOO:DEFAULT', '!FOO'), 'unknown');
    assert.equal(statusOf('HIGH:!EXP:!kECDH:!RC4:!FOO:DEFAULT', 'DEFAULT'), 'unknown');
    assert.ok(result.warnings.some((w) => w.includes('"EXP" is no longer known')));
    assert.ok(result.warnings.some((w) => w.includes('"RC4" is not available in this OpenSSL build')));
    assert.ok(result.warnings.some((w) => w.includes('DEFAULT is only recognised at the start')));
    assert.ok(result.warnings.some((w) => w.includes('unknown name "FOO"')));
  });

  it('tells no-match, redundant and contradictory elements apart', () => {
    const spec = 'HIGH:!aNULL:!ADH:!3DES:HIGH+MEDIUM';
    assert.equal(statusOf(spec, 'HIGH'), 'ok');
    assert.equal(statusOf(spec, '!aNULL'), 'ok');
    assert.equal(statusOf(spec, '!ADH'), 'redundant');
    assert.equal(statusOf(spec, '!3DES'), 'no-match');
    assert.equal(statusOf(spec, 'HIGH+MEDIUM'), 'contradictory');
  });

  it('rejects what OpenSSL rejects, and accepts an empty-looking but valid list', () => {
    assert.match(evaluateOpensslCipherString('HIGH:!').error ?? '', /invalid cipher string/);
    assert.match(evaluateOpensslCipherString('HIGH:@SECLEVEL=6').error ?? '', /SECLEVEL=6/);
    assert.match(evaluateOpensslCipherString('MEDIUM').error ?? '', /no cipher match/);
    assert.deepEqual(evaluateOpensslCipherString('MEDIUM').ciphers, []);
  });

  it('records @SECLEVEL without filtering the list, and Suite B mode', () => {
    const zero = evaluateOpensslCipherString('DEFAULT@SECLEVEL=0');
    assert.equal(zero.securityLevel, 0);
    assert.deepEqual(
      zero.ciphers.map((c) => c.code),
      evaluateOpensslCipherString('DEFAULT').ciphers.map((c) => c.code),
    );
    assert.equal(evaluateOpensslCipherString('HIGH:@SECLEVEL=1:@SECLEVEL=3').securityLevel, 3);
    const suiteB = evaluateOpensslCipherString('SUITEB128:HIGH');
    assert.equal(suiteB.suiteB, 'SUITEB128');
    assert.deepEqual(
      suiteB.ciphers.map((c) => c.openssl),
      ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384'],
    );
  });

  it('keeps `-` deleted suites re-addable and `!` killed suites gone', () => {
    const deleted = evaluateOpensslCipherString('HIGH:-AESGCM:AESGCM').ciphers;
    const killed = ours('HIGH:!AESGCM:AESGCM');
    assert.ok(deleted.some((c) => c.openssl === 'ECDHE-RSA-AES256-GCM-SHA384'));
    assert.ok(!killed.includes('ECDHE-RSA-AES256-GCM-SHA384'));
    // Re-added suites go to the end.
    const gcm = deleted.filter((c) => c.enc === 'AES_GCM').length;
    assert.ok(gcm > 0);
    assert.ok(deleted.slice(-gcm).every((c) => c.enc === 'AES_GCM'));
  });
});
