// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Postfix `${name}` syntax in plain strings is the subject under test.
// The inbound/outbound TLS policy derived from main.cf fixtures.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseMainCf } from '../../src/policy/main-cf.js';
import { evaluateOpensslCipherString } from '../../src/policy/openssl-cipher-string.js';
import { derivePostfixTlsPolicies, type PostfixTlsSettings } from '../../src/policy/postfix-tls-policy.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/main-cf');
const MEDIUM = 'aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH';

function policies(file: string) {
  const cf = parseMainCf(fs.readFileSync(path.join(FIXTURES, file), 'utf8'), { source: file });
  return derivePostfixTlsPolicies(cf);
}

function inline(text: string) {
  return derivePostfixTlsPolicies(parseMainCf(text, { source: 'inline' }));
}

const list = (set: ReadonlySet<string>) => [...set];
const names = (settings: PostfixTlsSettings) => settings.ciphers.map((c) => c.openssl);

describe('Postfix TLS policy: levels', () => {
  it('has TLS off in both directions when nothing is set (Postfix 3.7 defaults)', () => {
    const { inbound, outbound } = policies('defaults.cf');
    for (const p of [inbound, outbound]) {
      assert.equal(p.securityLevel, 'none');
      assert.equal(p.tlsEnabled, false);
      assert.equal(p.active, null);
      assert.equal(p.tlsUsable, false);
      assert.deepEqual(list(p.opportunistic.protocols), ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
      assert.equal(p.opportunistic.cipherPolicy.grade, 'medium');
      assert.equal(p.opportunistic.cipherPolicy.cipherString, MEDIUM);
    }
    assert.equal(inbound.mandatory.cipherPolicy.cipherString, MEDIUM);
    assert.equal(outbound.mandatory.cipherPolicy.cipherString, `${MEDIUM}:!eNULL`);
    assert.deepEqual(
      inbound.levelSources.map((s) => [s.parameter, s.value, s.origin]),
      [
        ['smtpd_enforce_tls', 'no', 'default'],
        ['smtpd_use_tls', 'no', 'default'],
      ],
    );
  });

  it('reads the usual opportunistic setup', () => {
    const { inbound, outbound } = policies('levels-may.cf');
    assert.equal(inbound.securityLevel, 'may');
    assert.equal(inbound.active, 'opportunistic');
    assert.equal(inbound.tlsRequired, false);
    assert.equal(inbound.tlsUsable, true);
    assert.deepEqual(inbound.levelSources[0], {
      parameter: 'smtpd_tls_security_level',
      value: 'may',
      origin: 'main.cf',
      line: 2,
    });
    assert.equal(inbound.opportunistic.cipherPolicy.cipherString, `${MEDIUM}:!aNULL`);
    assert.equal(inbound.mandatory.cipherPolicy.cipherString, `${MEDIUM}:!aNULL`);
    assert.equal(outbound.securityLevel, 'may');
    assert.equal(outbound.opportunistic.cipherPolicy.cipherString, MEDIUM);
    assert.equal(outbound.mandatory.cipherPolicy.cipherString, `${MEDIUM}:!MD5:!eNULL`);
    assert.deepEqual(outbound.mandatory.cipherPolicy.exclusions, [
      { token: 'MD5', parameter: 'smtp_tls_mandatory_exclude_ciphers' },
      { token: 'eNULL', parameter: 'smtp_tls_security_level' },
    ]);
  });

  it('maps the obsolete switches when the level is empty', () => {
    const { inbound, outbound } = policies('levels-obsolete.cf');
    assert.equal(inbound.securityLevel, 'encrypt');
    assert.equal(inbound.active, 'mandatory');
    assert.equal(inbound.tlsRequired, true);
    assert.deepEqual(
      inbound.levelSources.map((s) => s.parameter),
      ['smtpd_enforce_tls', 'smtpd_use_tls'],
    );
    // smtp_enforce_tls = yes with smtp_tls_enforce_peername = no is "encrypt" (yes would be "verify").
    assert.equal(outbound.securityLevel, 'encrypt');
    assert.equal(outbound.active, 'mandatory');
  });

  it('downgrades unsupported smtpd levels to encrypt and applies client-certificate and DANE exclusions', () => {
    const { inbound, outbound } = policies('levels-unusual.cf');
    assert.equal(inbound.securityLevel, 'encrypt');
    assert.ok(inbound.problems.some((p) => p.severity === 'warning' && /uses "encrypt"/.test(p.message)));
    assert.equal(inbound.opportunistic.cipherPolicy.cipherString, `${MEDIUM}:!aNULL`);
    assert.equal(inbound.mandatory.cipherPolicy.cipherString, `${MEDIUM}:!aNULL`);
    assert.equal(outbound.securityLevel, 'dane');
    assert.equal(outbound.tlsRequired, true);
    assert.equal(outbound.mandatory.cipherPolicy.grade, 'medium', 'grade names are case-insensitive');
    assert.equal(outbound.mandatory.cipherPolicy.cipherString, `${MEDIUM}:!3DES:!aNULL`);
  });
});

describe('Postfix TLS policy: protocols and what OpenSSL makes of them', () => {
  it('keeps only the lowest contiguous range for the client', () => {
    const { outbound } = policies('levels-unusual.cf');
    assert.deepEqual(list(outbound.opportunistic.protocols), ['TLSv1.2', 'TLSv1.3']);
    assert.deepEqual(list(outbound.mandatory.protocols), ['TLSv1', 'TLSv1.2', 'TLSv1.3']);
    // "!TLSv1.1" punches a hole: OpenSSL's client then offers TLS 1.0 only (RSA key exchange still completes).
    assert.deepEqual(list(outbound.mandatory.negotiableProtocols), ['TLSv1']);
  });

  it("runs OpenSSL 3.0 at Postfix's own level 0, not Debian's default 2: TLS 1.0/1.1 still work (review)", () => {
    // tls_server.c/tls_client.c: SSL_CTX_set_security_level(ctx, 0); real smtpd on Debian 12 completes TLSv1.
    const { inbound, outbound } = inline('smtpd_tls_security_level = may\nsmtp_tls_security_level = may\n');
    for (const s of [inbound.opportunistic, inbound.mandatory, outbound.opportunistic, outbound.mandatory]) {
      assert.equal(s.securityLevel, 0);
      assert.equal(s.securityLevelOrigin, 'postfix');
      assert.deepEqual(list(s.negotiableProtocols), ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
    }
  });

  it('takes @SECLEVEL from the cipher list: at level 1 or more no TLS < 1.2 server, and SSLv3 never', () => {
    const { inbound } = inline(
      'smtpd_tls_security_level = may\ntls_medium_cipherlist = aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH:@SECLEVEL=2\n',
    );
    assert.equal(inbound.opportunistic.securityLevel, 2);
    assert.equal(inbound.opportunistic.securityLevelOrigin, 'cipherlist');
    assert.deepEqual(list(inbound.opportunistic.negotiableProtocols), ['TLSv1.2', 'TLSv1.3']);
    assert.ok(!inbound.opportunistic.usableCiphers.some((c) => c.enc === 'RC4'));
  });

  it('raises the level to 1 where the peer is authenticated, over an @SECLEVEL of the list (review)', () => {
    // tls_client_start(): TLS_MUST_MATCH(level) → SSL_set_security_level(con, 1), after the cipher list.
    const { outbound } = inline(
      'smtp_tls_security_level = verify\ntls_medium_cipherlist = aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH:@SECLEVEL=3\n',
    );
    assert.equal(outbound.mandatory.securityLevel, 1);
    assert.equal(outbound.mandatory.securityLevelOrigin, 'authentication');
    // As a client at level 1, TLS 1.0 completes only with RSA key transport.
    assert.deepEqual(list(outbound.mandatory.negotiableProtocols), ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
    assert.equal(outbound.opportunistic.securityLevel, 3, 'may (the opportunistic settings) keeps the list level');
    const encrypt = inline('smtp_tls_security_level = encrypt\n').outbound;
    assert.equal(encrypt.mandatory.securityLevel, 0, 'encrypt does not authenticate: level 0');
    // tls_server_start(): requirecert (smtpd_tls_req_ccert with TLS required) → level 1.
    const ccert = inline('smtpd_tls_security_level = encrypt\nsmtpd_tls_req_ccert = yes\n').inbound;
    assert.equal(ccert.mandatory.securityLevel, 1);
    assert.deepEqual(list(ccert.mandatory.negotiableProtocols), ['TLSv1.2', 'TLSv1.3']);
    assert.equal(ccert.opportunistic.securityLevel, 0);
  });
});

describe('Postfix TLS policy: cipher lists', () => {
  it('evaluates exactly the string Postfix hands to OpenSSL', () => {
    const { inbound, outbound } = policies('levels-may.cf');
    for (const settings of [inbound.opportunistic, inbound.mandatory, outbound.opportunistic, outbound.mandatory]) {
      const spec = settings.cipherPolicy.cipherString ?? '';
      assert.deepEqual(
        settings.ciphers.map((c) => c.code),
        evaluateOpensslCipherString(spec).ciphers.map((c) => c.code),
      );
      assert.ok(settings.ciphers.length > 0);
      const anonymous = names(settings).some((n) => n?.startsWith('ADH-') || n?.startsWith('AECDH-'));
      const excluded = settings.cipherPolicy.exclusions.some((e) => e.token === 'aNULL');
      assert.equal(anonymous, !excluded, settings.cipherPolicy.cipherString ?? '');
    }
    // "aNULL:-aNULL:HIGH" keeps anonymous suites in the list; at Postfix's level 0 the client offers them
    // (opportunistic TLS needs no authentication), at level 1 the security level would refuse them.
    const anonymous = (n: string | null) => n?.startsWith('ADH-') || n?.startsWith('AECDH-');
    assert.ok(names(outbound.opportunistic).some(anonymous));
    assert.ok(outbound.opportunistic.usableCiphers.some((c) => anonymous(c.openssl)));
    assert.equal(inbound.opportunistic.usableCiphers.length, inbound.opportunistic.ciphers.length);
  });

  it('reports settings with which Postfix cannot start TLS', () => {
    const { inbound, outbound } = policies('invalid-settings.cf');
    assert.equal(inbound.opportunistic.cipherPolicy.grade, null);
    assert.equal(inbound.opportunistic.valid, false);
    assert.equal(inbound.tlsUsable, false);
    assert.ok(
      inbound.problems.some(
        (p) => p.parameter === 'smtpd_tls_ciphers' && /invalid cipher grade "strong"/.test(p.message),
      ),
    );
    // tls_high_cipherlist = RC4:3DES selects nothing in OpenSSL 3: "no cipher match".
    assert.equal(inbound.mandatory.valid, false);
    assert.match(inbound.mandatory.cipherPolicy.evaluation.error ?? '', /no cipher match/);
    assert.ok(inbound.problems.some((p) => p.parameter === 'tls_high_cipherlist'));
    assert.equal(outbound.mandatory.valid, false);
    assert.ok(
      outbound.problems.some(
        (p) => /invalid unary/.test(p.message) && p.parameter === 'smtp_tls_mandatory_exclude_ciphers',
      ),
    );
    assert.equal(outbound.tlsUsable, false);
    assert.equal(outbound.opportunistic.protocolPolicy.evaluation.valid, false);
    assert.ok(outbound.problems.some((p) => p.parameter === 'smtp_tls_protocols' && /"TLSv2"/.test(p.message)));
  });
});

describe('Postfix TLS policy: the seed main.cf', () => {
  const { inbound, outbound } = policies('seed-main.cf');

  it('sees that the "# denying SSLv3 ..." comment invalidates smtpd_tls_protocols', () => {
    assert.equal(inbound.opportunistic.protocolPolicy.evaluation.valid, false);
    assert.equal(inbound.opportunistic.valid, false);
    assert.ok(
      inbound.problems.some((p) => p.parameter === 'smtpd_tls_protocols' && /disables TLS support/.test(p.message)),
    );
    // The mandatory list "!TLSv1, !SSLv2" leaves SSLv3 enabled in Postfix, which OpenSSL 3 cannot do anyway.
    assert.deepEqual(list(inbound.mandatory.protocols), ['SSLv3', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
    assert.deepEqual(list(inbound.mandatory.negotiableProtocols), ['TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
  });

  it('uses the custom tls_high_cipherlist with the expanded exclusions appended', () => {
    const smtpdExclusions = inbound.opportunistic.cipherPolicy.exclusions.map((e) => e.token);
    const smtpExclusions = outbound.opportunistic.cipherPolicy.exclusions.map((e) => e.token);
    assert.deepEqual(smtpExclusions, smtpdExclusions, 'smtp_tls_exclude_ciphers = ${smtpd_tls_exclude_ciphers}');
    assert.equal(smtpdExclusions.length, 12);
    assert.equal(outbound.opportunistic.cipherPolicy.grade, 'high');
    assert.ok(outbound.opportunistic.cipherPolicy.cipherString?.startsWith('EDH+CAMELLIA:EDH+aRSA:'));
    assert.ok(outbound.opportunistic.cipherPolicy.cipherString?.endsWith(':!KRB5-DES:!CBC3-SHA'));
    assert.equal(outbound.opportunistic.ciphers.length, 24);
    assert.ok(names(outbound.opportunistic).includes('AES128-SHA'), 'the list ends with a non-PFS CBC suite');
    // Neither level is set in the excerpt: TLS is off unless the full main.cf sets it.
    assert.equal(inbound.securityLevel, 'none');
    assert.equal(outbound.securityLevel, 'none');
  });

  it('flags ineffective exclusion tokens through the OpenSSL evaluation', () => {
    const elements = outbound.mandatory.cipherPolicy.evaluation.elements;
    const status = (text: string) => elements.filter((e) => e.text === text).map((e) => e.status);
    assert.deepEqual(status('!RC5'), ['unknown']);
    assert.deepEqual(status('!PSD'), ['unknown']);
    assert.deepEqual(status('!KRB5-DES'), ['unknown']);
    assert.ok(status('!EDH-RSA-DES-CBC3-SHA').every((s) => s === 'no-match'));
  });
});
