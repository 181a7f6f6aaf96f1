// Security levels against `openssl ciphers -s` (the suites a context really offers at a level), plus the
// protocol/handshake rules OpenSSL 3.0 applies at handshake time.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { CIPHER_SUITES, type CipherSuite } from '../../src/ciphers/suites.generated.js';
import { evaluateOpensslCipherString } from '../../src/policy/openssl-cipher-string.js';
import {
  canCompleteHandshake,
  filterCiphersBySecurityLevel,
  isCipherAllowedAtSecurityLevel,
  isProtocolPermittedAtSecurityLevel,
  securityLevelMinBits,
} from '../../src/policy/openssl-security-level.js';

const probe = spawnSync('openssl', ['version'], { encoding: 'utf8' });
const SKIP = probe.error ? 'openssl binary not found: oracle comparison skipped' : false;

function suite(name: string): CipherSuite {
  const found = CIPHER_SUITES.find((s) => s.openssl === name);
  assert.ok(found, name);
  return found;
}

describe('OpenSSL security levels: oracle `openssl ciphers -s`', { skip: SKIP }, () => {
  for (const level of [0, 1, 2, 3, 4, 5]) {
    it(`filters like OpenSSL at level ${level}`, () => {
      const spec = `ALL:COMPLEMENTOFALL:@SECLEVEL=${level}`;
      // -psk and -srp: do not drop PSK/SRP suites for lack of callbacks, only for the level.
      const run = spawnSync('openssl', ['ciphers', '-s', '-psk', '-srp', '-v', spec], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      const expected = run.stdout
        .split('\n')
        .map((line) => line.trim().split(/\s+/))
        .filter((f) => f.length > 1 && f[1] !== 'TLSv1.3')
        .map((f) => f[0]);
      const result = evaluateOpensslCipherString(spec);
      assert.equal(result.securityLevel, level);
      const actual = filterCiphersBySecurityLevel(result.ciphers, level).map((c) => c.openssl);
      assert.deepEqual(actual, expected);
    });
  }
});

describe('OpenSSL security levels: rules', () => {
  it('has the minimum strengths of ssl_cert.c', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 9].map(securityLevelMinBits), [0, 80, 112, 128, 192, 256, 256]);
  });

  it('refuses anonymous, MD5, SHA-1 above 160 bits and non-forward-secret suites at level 3', () => {
    assert.equal(isCipherAllowedAtSecurityLevel(suite('ADH-AES256-GCM-SHA384'), 1), false);
    assert.equal(isCipherAllowedAtSecurityLevel(suite('ADH-AES256-GCM-SHA384'), 0), true);
    assert.equal(isCipherAllowedAtSecurityLevel(suite('NULL-MD5'), 1), false);
    assert.equal(isCipherAllowedAtSecurityLevel(suite('NULL-SHA'), 1), false);
    assert.equal(isCipherAllowedAtSecurityLevel(suite('DES-CBC3-SHA'), 2), true);
    assert.equal(isCipherAllowedAtSecurityLevel(suite('DES-CBC3-SHA'), 3), false);
    assert.equal(isCipherAllowedAtSecurityLevel(suite('RC4-SHA'), 1), true);
    assert.equal(isCipherAllowedAtSecurityLevel(suite('RC4-SHA'), 2), false);
    assert.equal(isCipherAllowedAtSecurityLevel(suite('AES256-GCM-SHA384'), 3), false);
    assert.equal(isCipherAllowedAtSecurityLevel(suite('ECDHE-RSA-AES256-GCM-SHA384'), 5), true);
    assert.equal(isCipherAllowedAtSecurityLevel(suite('ECDHE-RSA-AES256-SHA'), 4), false);
  });

  it('lets the version check drop SSLv3 at 2, TLS 1.0 at 3, TLS 1.1 at 4', () => {
    assert.equal(isProtocolPermittedAtSecurityLevel('SSLv3', 1), true);
    assert.equal(isProtocolPermittedAtSecurityLevel('SSLv3', 2), false);
    assert.equal(isProtocolPermittedAtSecurityLevel('TLSv1', 2), true);
    assert.equal(isProtocolPermittedAtSecurityLevel('TLSv1', 3), false);
    assert.equal(isProtocolPermittedAtSecurityLevel('TLSv1.1', 4), false);
    assert.equal(isProtocolPermittedAtSecurityLevel('SSLv2', 0), false);
  });

  it('needs level 0 for a TLS < 1.2 server, and unsigned key exchange for a TLS < 1.2 client', () => {
    const rsa = suite('AES128-SHA');
    const ecdhe = suite('ECDHE-RSA-AES128-SHA');
    assert.equal(canCompleteHandshake('server', 'TLSv1', rsa, 1), false);
    assert.equal(canCompleteHandshake('server', 'TLSv1', rsa, 0), true);
    assert.equal(canCompleteHandshake('client', 'TLSv1', rsa, 2), true);
    assert.equal(canCompleteHandshake('client', 'TLSv1.1', ecdhe, 2), false);
    assert.equal(canCompleteHandshake('client', 'TLSv1.2', ecdhe, 2), true);
    assert.equal(canCompleteHandshake('server', 'TLSv1.2', suite('ECDHE-RSA-AES128-GCM-SHA256'), 2), true);
    // A TLS 1.2-only suite cannot be used with TLS 1.1; TLS 1.3 suites only with TLS 1.3.
    assert.equal(canCompleteHandshake('server', 'TLSv1.1', suite('ECDHE-RSA-AES128-GCM-SHA256'), 0), false);
    assert.equal(canCompleteHandshake('server', 'TLSv1.2', suite('TLS_AES_128_GCM_SHA256'), 0), false);
    assert.equal(canCompleteHandshake('server', 'TLSv1.3', suite('TLS_AES_128_GCM_SHA256'), 2), true);
  });

  it('has no SHA-1 signature rule before OpenSSL 3.0: the 1.1 rules keep TLS < 1.2 at levels 1 and 2', () => {
    const ecdhe = suite('ECDHE-RSA-AES128-SHA');
    assert.equal(canCompleteHandshake('server', 'TLSv1', ecdhe, 2, '1.1'), true);
    assert.equal(canCompleteHandshake('client', 'TLSv1.1', ecdhe, 2, '1.1'), true);
    assert.equal(canCompleteHandshake('server', 'TLSv1', ecdhe, 3, '1.1'), false);
    assert.equal(canCompleteHandshake('server', 'TLSv1.2', suite('RC4-SHA'), 2, '1.1'), false);
  });
});
