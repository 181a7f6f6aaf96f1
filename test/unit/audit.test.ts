// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Postfix `${name}` syntax in plain strings is the subject of some tests.
// The audit rules (src/policy/audit.ts), each with a main.cf fixture in test/fixtures/main-cf/audit-*.cf, and the
// seed main.cf (one admin's real hardened excerpt) with every mistake in it written down.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { auditMainCf, type Finding } from '../../src/policy/audit.js';
import { parseMainCf } from '../../src/policy/main-cf.js';
import { parseTlsLogLevel } from '../../src/policy/postfix-tls-log-level.js';
import { fixturePath } from '../helpers/paths.js';

function audit(file: string): Finding[] {
  return auditMainCf(parseMainCf(fs.readFileSync(fixturePath('main-cf', file), 'utf8'), { source: file }));
}

function find(findings: Finding[], id: string, parameter: string): Finding {
  const f = findings.find((x) => x.id === id && x.parameter === parameter);
  assert.ok(f, `${id} on ${parameter} in:\n${findings.map((x) => `${x.id} ${x.parameter}`).join('\n')}`);
  return f;
}

function has(
  findings: Finding[],
  id: string,
  parameter: string,
  severity: Finding['severity'],
  message?: RegExp,
): void {
  const f = find(findings, id, parameter);
  assert.equal(f.severity, severity, `${id} on ${parameter}`);
  if (message) assert.match(f.message, message);
  assert.ok(f.fix.length > 0, 'every finding says how to fix it');
}

describe('audit: the seed main.cf (every mistake in it)', () => {
  const findings = audit('seed-main.cf');

  it('finds that the "# denying SSLv3 …" comment makes smtpd_tls_protocols invalid: smtpd disables TLS', () => {
    // Postfix comments are whole lines only: the '#' and the words after it are protocol names to Postfix.
    has(findings, 'protocols-invalid', 'smtpd_tls_protocols', 'error', /'#' after a value is part of the value/);
    assert.match(find(findings, 'protocols-invalid', 'smtpd_tls_protocols').fix, /comment on a line of its own/);
  });

  it('finds "!TLSv1" while SSLv3 stays allowed — in the list as meant and in the mandatory list', () => {
    // Exclusion syntax: "!TLSv1, !SSLv2" names only what it removes, so SSLv3 stays; a TLS 1.0 client fails
    // while an SSLv3 client succeeds.
    has(
      findings,
      'protocols-gap',
      'smtpd_tls_protocols',
      'warning',
      /as meant \(before the '#'\).*!TLSv1 while the older SSLv3/,
    );
    has(findings, 'protocols-gap', 'smtpd_tls_mandatory_protocols', 'warning', /!TLSv1 while the older SSLv3/);
    has(findings, 'protocols-sslv3', 'smtpd_tls_protocols', 'warning', /as meant/);
  });

  it('finds SSLv3 (and TLS 1.1) allowed where TLS is mandatory (submission passwords)', () => {
    has(findings, 'protocols-sslv3', 'smtpd_tls_mandatory_protocols', 'error');
    has(findings, 'protocols-tls10-11', 'smtpd_tls_mandatory_protocols', 'warning', /TLSv1\.1/);
    has(findings, 'protocols-tls10-11', 'smtp_tls_mandatory_protocols', 'warning', /TLSv1\.1/);
  });

  it('finds the space in "CAMELLIA128 -SHA": "-SHA" deletes every SHA-1 suite added before it', () => {
    has(
      findings,
      'cipherlist-split-name',
      'tls_high_cipherlist',
      'warning',
      /"-SHA" then deletes every SHA-1 suite.*CAMELLIA128-SHA was probably meant/,
    );
  });

  it('counts the SHA-1 suites "-SHA" deletes up to its own CAMELLIA128, not an earlier "+CAMELLIA128" (review)', () => {
    // `openssl ciphers -v '<the list up to "CAMELLIA128">' | grep -c 'Mac=SHA1$'` on OpenSSL 3.0.19: 7 (12 up to
    // the first "+CAMELLIA128").
    has(findings, 'cipherlist-split-name', 'tls_high_cipherlist', 'warning', /\(7 on OpenSSL 3\.0\)/);
  });

  it('finds "KRB5-DES, CBC3-SHA": one suite name (KRB5-DES-CBC3-SHA) split by a comma', () => {
    has(
      findings,
      'cipherlist-split-name',
      'smtpd_tls_exclude_ciphers',
      'warning',
      /KRB5-DES-CBC3-SHA was probably meant/,
    );
  });

  it('finds exclusion tokens OpenSSL does not know ("PSD", "RC5") and skips silently', () => {
    has(findings, 'cipherlist-unknown-token', 'smtpd_tls_mandatory_exclude_ciphers', 'warning', /"!RC5", "!PSD"/);
    assert.match(find(findings, 'cipherlist-unknown-token', 'smtpd_tls_mandatory_exclude_ciphers').fix, /PSD → PSK\?/);
    has(findings, 'cipherlist-unknown-token', 'smtp_tls_mandatory_exclude_ciphers', 'warning');
  });

  it('finds tokens that do nothing on OpenSSL 3 or repeat earlier ones (harmless: info)', () => {
    has(findings, 'cipherlist-ineffective-token', 'smtpd_tls_exclude_ciphers', 'info', /"!EXPORT"/);
    has(findings, 'cipherlist-ineffective-token', 'tls_high_cipherlist', 'info', /"!MD5" is already excluded/);
    // The expansion ${smtpd_tls_exclude_ciphers} is reported where it is written, not twice.
    assert.ok(!findings.some((f) => f.parameter === 'smtp_tls_exclude_ciphers'));
  });

  it('finds "high" on opportunistic TLS in both directions (old peers then go plaintext)', () => {
    has(findings, 'cipher-grade-high-opportunistic', 'smtp_tls_ciphers', 'warning', /retries in plaintext/);
    has(findings, 'cipher-grade-high-opportunistic', 'smtpd_tls_ciphers', 'warning');
  });

  it('finds the overridden tls_high_cipherlist, its ignored order, its "!ECDSA"', () => {
    has(findings, 'cipherlist-overridden', 'tls_high_cipherlist', 'warning', /governs smtpd_tls_ciphers/);
    has(findings, 'cipher-order-ignored', 'tls_high_cipherlist', 'info');
    has(findings, 'cipherlist-excludes-ecdsa', 'tls_high_cipherlist', 'info');
  });

  it('finds that TLS 1.0/1.1 peers are left with AES128-SHA only (no forward secrecy)', () => {
    has(findings, 'cipherlist-legacy-suites', 'smtp_tls_ciphers', 'info', /only AES128-SHA/);
  });

  it('finds no security level (the excerpt alone means no TLS) and AUTH only over a TLS that is never offered', () => {
    has(findings, 'security-level-missing', 'smtpd_tls_security_level', 'warning');
    has(findings, 'security-level-missing', 'smtp_tls_security_level', 'warning');
    has(findings, 'auth-only-without-tls', 'smtpd_tls_auth_only', 'warning', /smtpd_tls_protocols is invalid/);
  });

  it('finds log level 0 in both directions: no census possible', () => {
    has(findings, 'loglevel-zero', 'smtpd_tls_loglevel', 'warning');
    has(findings, 'loglevel-zero', 'smtp_tls_loglevel', 'warning');
  });

  it('recommends the floor syntax over exclusion lists', () => {
    has(findings, 'protocols-exclusion-syntax', 'smtp_tls_protocols', 'info');
  });

  it('sorts errors first, then by line', () => {
    const severities = findings.map((f) => f.severity);
    assert.deepEqual(
      severities,
      [...severities].sort((a, b) => ['error', 'warning', 'info'].indexOf(a) - ['error', 'warning', 'info'].indexOf(b)),
    );
    assert.equal(findings.filter((f) => f.severity === 'error').length, 2);
  });
});

describe('audit: rules by fixture', () => {
  it('a sound configuration has no error and no warning', () => {
    const findings = audit('audit-clean.cf');
    assert.deepEqual(
      findings.filter((f) => f.severity !== 'info').map((f) => `${f.id} ${f.parameter}`),
      [],
    );
    has(findings, 'protocols-tls10-11', 'smtpd_tls_protocols', 'info');
  });

  it('levels: encrypt on port 25, wrapper mode in main.cf, mandatory TLS to every destination, obsolete booleans', () => {
    const findings = audit('audit-levels-encrypt.cf');
    has(findings, 'encrypt-on-port-25', 'smtpd_tls_security_level', 'warning', /RFC 3207/);
    has(findings, 'wrappermode-in-main-cf', 'smtpd_tls_wrappermode', 'error');
    has(findings, 'smtp-mandatory-everywhere', 'smtp_tls_security_level', 'warning', /verify/);
    has(findings, 'obsolete-parameter', 'smtpd_use_tls', 'warning', /ignored here/);
    has(findings, 'obsolete-parameter', 'smtp_enforce_tls', 'warning', /ignored here/);
    has(findings, 'protocols-tls10-11', 'smtp_tls_mandatory_protocols', 'warning');
  });

  it('levels: none in both directions, and smtpd_tls_auth_only without TLS', () => {
    const findings = audit('audit-levels-none.cf');
    has(findings, 'security-level-none', 'smtpd_tls_security_level', 'warning', /no STARTTLS/);
    has(findings, 'security-level-none', 'smtp_tls_security_level', 'warning', /never uses TLS/);
    has(findings, 'auth-only-without-tls', 'smtpd_tls_auth_only', 'warning', /security level is none/);
  });

  it('levels: obsolete booleans that still decide, req_ccert with optional TLS, no server certificate', () => {
    const findings = audit('audit-levels-obsolete.cf');
    has(findings, 'obsolete-parameter', 'smtpd_use_tls', 'warning', /still sets the level/);
    has(findings, 'obsolete-parameter', 'smtp_use_tls', 'warning');
    has(findings, 'obsolete-parameter', 'smtp_tls_enforce_peername', 'warning');
    has(findings, 'req-ccert-without-mandatory', 'smtpd_tls_req_ccert', 'warning');
    has(findings, 'no-server-certificate', 'smtpd_tls_chain_files', 'warning', /No server certs available/);
    // A `may` client without policy maps has no mandatory destinations: the default >=TLSv1 is only info there.
    has(findings, 'protocols-tls10-11', 'smtp_tls_mandatory_protocols', 'info');
  });

  it('levels: a certificate check without trust anchors verifies nothing (real Postfix defers everything)', () => {
    const cert = 'smtpd_tls_chain_files = /etc/postfix/chain.pem\n';
    for (const level of ['verify', 'secure']) {
      const findings = auditMainCf(
        parseMainCf(`${cert}smtpd_tls_security_level = may\nsmtp_tls_security_level = ${level}\n`),
      );
      has(findings, 'no-trust-anchors', 'smtp_tls_CAfile', 'warning', /Server certificate not verified/);
    }
    const ids = (text: string) => auditMainCf(parseMainCf(text)).map((x) => `${x.id} ${x.parameter}`);
    // tls_append_default_CA appends the system's CAs only to a CAfile or CApath that is set (real Postfix 3.7:
    // deferred with it alone, "Verified" with an empty CApath beside it).
    assert.ok(
      ids(
        `${cert}smtpd_tls_security_level = may\nsmtp_tls_security_level = verify\ntls_append_default_CA = yes\n`,
      ).some((x) => x === 'no-trust-anchors smtp_tls_CAfile'),
    );
    // Anchors from a file, a directory or the system's defaults; levels that check no CA signature.
    for (const ok of [
      'smtp_tls_security_level = verify\nsmtp_tls_CApath = /etc/ssl/certs\n',
      'smtp_tls_security_level = secure\nsmtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt\n',
      'smtp_tls_security_level = verify\nsmtp_tls_trust_anchor_file = /etc/postfix/anchors.pem\n',
      'smtp_tls_security_level = dane\n',
      'smtp_tls_security_level = may\n',
    ]) {
      assert.ok(!ids(`${cert}smtpd_tls_security_level = may\n${ok}`).some((x) => x.startsWith('no-trust-anchors')), ok);
    }
    // The obsolete smtp_enforce_tls (with smtp_tls_enforce_peername = yes, its default) is level verify: named as set.
    has(
      auditMainCf(
        parseMainCf(`${cert}smtpd_tls_security_level = may\nsmtp_tls_security_level =\nsmtp_enforce_tls = yes\n`),
      ),
      'no-trust-anchors',
      'smtp_tls_CAfile',
      'warning',
      /^smtp_enforce_tls = yes makes the smtp client verify/,
    );
    const ccert = auditMainCf(
      parseMainCf(
        `${cert}smtpd_tls_security_level = encrypt\nsmtpd_tls_req_ccert = yes\nsmtp_tls_security_level = may\n`,
      ),
    );
    has(ccert, 'no-trust-anchors', 'smtpd_tls_CAfile', 'warning', /every client is refused/);
    assert.ok(
      !ids(
        `${cert}smtpd_tls_security_level = encrypt\nsmtpd_tls_req_ccert = yes\nsmtpd_tls_CAfile = /etc/postfix/clients-ca.pem\n`,
      ).some((x) => x.startsWith('no-trust-anchors')),
    );
  });

  it('levels: dane without DNSSEC, a client-only level on smtpd, a bad boolean', () => {
    const findings = audit('audit-levels-dane.cf');
    has(findings, 'dane-without-dnssec', 'smtp_dns_support_level', 'warning');
    has(findings, 'security-level-unsupported', 'smtpd_tls_security_level', 'warning', /uses "encrypt"/);
    has(findings, 'invalid-boolean', 'smtpd_tls_ask_ccert', 'error');
  });

  it('protocols: SSLv2 left on, SSLv3 allowed, holes, mandatory looser, TLS 1.3 cut off, exclusion syntax', () => {
    const findings = audit('audit-protocols.cf');
    has(findings, 'protocols-sslv2', 'smtpd_tls_protocols', 'warning');
    has(findings, 'protocols-exclusion-syntax', 'smtpd_tls_protocols', 'info');
    has(findings, 'mandatory-looser', 'smtpd_tls_mandatory_protocols', 'warning', /accepts TLSv1/);
    has(findings, 'protocols-sslv3', 'smtp_tls_protocols', 'warning');
    has(findings, 'protocols-gap', 'smtp_tls_protocols', 'warning', /offers just SSLv3, TLSv1/);
    has(findings, 'protocols-no-tls13', 'smtp_tls_mandatory_protocols', 'warning');
  });

  it('says "empty", not "not set", for "smtpd_tls_security_level =", and lets the obsolete booleans decide (review)', () => {
    const empty = auditMainCf(parseMainCf('smtpd_tls_security_level =\nsmtp_tls_security_level = may\n'));
    has(
      empty,
      'security-level-missing',
      'smtpd_tls_security_level',
      'warning',
      /^smtpd_tls_security_level is empty, so the obsolete smtpd_use_tls and smtpd_enforce_tls decide, and both are no/,
    );
    assert.doesNotMatch(find(empty, 'security-level-missing', 'smtpd_tls_security_level').message, /not set/);
    // With an empty level the obsolete boolean still sets it (smtpd.c pre_jail_init()): not "ignored here".
    const obsolete = auditMainCf(parseMainCf('smtpd_tls_security_level =\nsmtpd_use_tls = yes\n'));
    has(obsolete, 'obsolete-parameter', 'smtpd_use_tls', 'warning', /still sets the level/);
    // YES is a yes for Postfix: wrapper mode in main.cf is found whatever the case.
    const wrapper = auditMainCf(parseMainCf('smtpd_tls_security_level = may\nsmtpd_tls_wrappermode = YES\n'));
    has(wrapper, 'wrappermode-in-main-cf', 'smtpd_tls_wrappermode', 'error');
  });

  it('mandatory-looser compares older versions only: TLS 1.3 is not looser; ">= TLSv1.2" is explained (review)', () => {
    const lint = (opportunistic: string, mandatory: string) =>
      auditMainCf(
        parseMainCf(
          `smtpd_tls_security_level = may\nsmtpd_tls_protocols = ${opportunistic}\nsmtpd_tls_mandatory_protocols = ${mandatory}\n`,
        ),
      );
    // Real smtpd enabled only TLSv1.2 with ">= TLSv1.2": mandatory TLS allowing TLS 1.3 as well is not looser.
    const spaced = lint('>= TLSv1.2', '>=TLSv1.2');
    assert.ok(!spaced.some((f) => f.id === 'mandatory-looser'), 'TLS 1.3 is not "looser"');
    has(spaced, 'protocols-operator-space', 'smtpd_tls_protocols', 'warning', /">= TLSv1\.2": Postfix splits/);
    assert.equal(
      find(spaced, 'protocols-operator-space', 'smtpd_tls_protocols').fix,
      'smtpd_tls_protocols = >=TLSv1.2',
    );
    has(spaced, 'protocols-no-tls13', 'smtpd_tls_protocols', 'warning', /the space in ">= TLSv1\.2" is why/);
    assert.ok(!lint('TLSv1.2', '>=TLSv1.2').some((f) => f.id === 'mandatory-looser'));
    // An older version is looser; the fix is the opportunistic floor, never a list that drops TLS 1.3.
    const older = lint('>=TLSv1.2', '>=TLSv1');
    has(older, 'mandatory-looser', 'smtpd_tls_mandatory_protocols', 'warning', /accepts TLSv1, TLSv1\.1,/);
    assert.equal(
      find(older, 'mandatory-looser', 'smtpd_tls_mandatory_protocols').fix,
      'smtpd_tls_mandatory_protocols = >=TLSv1.2',
    );
  });

  it('protocols: nothing left, TLS 1.3 only on opportunistic TLS, a name Postfix does not know', () => {
    const findings = audit('audit-protocols-broken.cf');
    has(findings, 'protocols-empty', 'smtpd_tls_mandatory_protocols', 'error');
    has(findings, 'protocols-tls13-only', 'smtpd_tls_protocols', 'warning');
    has(findings, 'protocols-invalid', 'smtp_tls_protocols', 'error', /"TLSv1\.4"/);
  });

  it('grades, preference, DH/ECDH parameters, OpenSSL options, log levels', () => {
    const findings = audit('audit-ciphers-grades.cf');
    has(findings, 'cipher-grade-high-opportunistic', 'smtpd_tls_ciphers', 'warning');
    has(findings, 'mandatory-looser', 'smtpd_tls_mandatory_ciphers', 'warning', /weaker "medium"/);
    has(findings, 'cipher-grade-invalid', 'smtp_tls_ciphers', 'error');
    has(findings, 'cipher-grade-weak', 'smtp_tls_mandatory_ciphers', 'error', /do not encrypt/);
    has(findings, 'preempt-cipherlist', 'tls_preempt_cipherlist', 'info', /Windows 2003/);
    has(findings, 'dh-params-custom', 'smtpd_tls_dh1024_param_file', 'info', /auto/);
    has(findings, 'ignored-parameter', 'smtpd_tls_dh512_param_file', 'info');
    has(findings, 'ignored-parameter', 'smtpd_tls_eecdh_grade', 'info', /3\.6/);
    has(findings, 'tls-ssl-options-unknown', 'tls_ssl_options', 'warning', /"NO_TLSv1"/);
    has(findings, 'loglevel-verbose', 'smtpd_tls_loglevel', 'info');
    // "x" is no log level: Postfix warns and logs no TLS activity, it does not stop.
    has(findings, 'loglevel-invalid', 'smtp_tls_loglevel', 'warning', /logs no TLS activity at all/);
  });

  it('reads *_tls_loglevel as Postfix does: a list of names, any case, an unknown one not fatal (review)', () => {
    const lint = (smtpd: string) =>
      auditMainCf(
        parseMainCf(
          `smtpd_tls_security_level = may\nsmtp_tls_security_level = may\nsmtp_tls_loglevel = 1\nsmtpd_tls_loglevel = ${smtpd}\n`,
        ),
      ).filter((f) => f.parameter === 'smtpd_tls_loglevel');
    const ids = (smtpd: string) => lint(smtpd).map((f) => `${f.id}/${f.severity}`);
    // tls_misc.c tls_log_table: "routine" is 1, "debug" 2; real smtpd logged its handshakes with "routine".
    assert.deepEqual(ids('routine'), []);
    assert.deepEqual(ids('Routine, peercert'), []);
    assert.deepEqual(ids('debug'), ['loglevel-verbose/info']);
    assert.deepEqual(ids('none'), ['loglevel-zero/warning']);
    assert.deepEqual(ids('peercert'), ['loglevel-zero/warning']);
    assert.match(lint('peercert')[0]?.message ?? '', /no TLS handshake summary/);
    // Unknown: 'warning: unknown smtpd_tls_loglevel value "banana"', and no TLS logging at all — even with "1".
    assert.deepEqual(ids('banana'), ['loglevel-invalid/warning']);
    assert.deepEqual(ids('1, banana'), ['loglevel-invalid/warning']);
    assert.match(lint('banana')[0]?.message ?? '', /"banana".*logs no TLS activity at all/);
    assert.ok(!lint('banana').some((f) => f.severity === 'error'));
  });

  it('expands ${ name } with whitespace as postconf -x does, and reports its tokens where they are written (review)', () => {
    const text = (reference: string) =>
      `smtpd_tls_security_level = may\nsmtp_tls_security_level = may\nsmtpd_tls_loglevel = 1\nsmtp_tls_loglevel = 1\nsmtpd_tls_exclude_ciphers = aNULL, RC4, PSKK\nsmtp_tls_exclude_ciphers = ${reference}\n`;
    const spaced = parseMainCf(text('${ smtpd_tls_exclude_ciphers }'));
    assert.equal(spaced.parameters.get('smtp_tls_exclude_ciphers')?.expanded, 'aNULL, RC4, PSKK');
    const summary = (cf: ReturnType<typeof parseMainCf>) => auditMainCf(cf).map((f) => `${f.id} ${f.parameter}`);
    assert.deepEqual(summary(spaced), summary(parseMainCf(text('${smtpd_tls_exclude_ciphers}'))));
    assert.ok(!auditMainCf(spaced).some((f) => f.id === 'main-cf-syntax'));
  });

  it('parses log masks like name_mask_opt()', () => {
    assert.deepEqual(parseTlsLogLevel('routine'), { unknown: [], summary: true, verbose: false, none: false });
    assert.deepEqual(parseTlsLogLevel(''), { unknown: [], summary: false, verbose: false, none: true });
    assert.deepEqual(parseTlsLogLevel('3'), { unknown: [], summary: true, verbose: true, none: false });
    assert.deepEqual(parseTlsLogLevel('summary cache'), { unknown: [], summary: true, verbose: true, none: false });
    assert.deepEqual(parseTlsLogLevel('10'), { unknown: ['10'], summary: false, verbose: false, none: true });
  });

  it('hand-made lists: rejected, invalid exclusion, typo, contradiction, TLS 1.3 names, split name, unused list', () => {
    const findings = audit('audit-ciphers-lists.cf');
    has(findings, 'cipher-list-rejected', 'tls_medium_cipherlist', 'error', /no cipher match/);
    has(findings, 'cipher-exclusion-invalid', 'smtp_tls_exclude_ciphers', 'error', /"!RC4"/);
    has(findings, 'cipherlist-unknown-token', 'tls_medium_cipherlist', 'warning', /"!PSKK"/);
    assert.match(find(findings, 'cipherlist-unknown-token', 'tls_medium_cipherlist').fix, /PSKK → PSK\?/);
    has(findings, 'cipherlist-contradictory-token', 'tls_medium_cipherlist', 'warning', /kRSA\+kEDH/);
    has(findings, 'tls13-suites-in-cipherlist', 'tls_medium_cipherlist', 'info');
    has(findings, 'cipherlist-split-name', 'smtpd_tls_exclude_ciphers', 'warning', /ECDHE-RSA-DES-CBC3-SHA/);
    has(findings, 'cipherlist-overridden', 'tls_high_cipherlist', 'warning', /no setting uses the "high" grade/);
    has(findings, 'cipherlist-excludes-ecdsa', 'tls_high_cipherlist', 'info');
    has(findings, 'cipherlist-legacy-suites', 'smtpd_tls_ciphers', 'warning', /no suite that works below TLS 1\.2/);
    // Postfix's own default list is not the admin's to fix.
    assert.ok(!audit('audit-clean.cf').some((f) => f.id === 'cipherlist-ineffective-token'));
  });

  it('main.cf syntax: a line without "=" (fatal for Postfix) and a duplicate', () => {
    const findings = audit('audit-misc.cf');
    has(findings, 'main-cf-syntax', 'line 7', 'error', /missing '='/);
    has(findings, 'main-cf-syntax', 'smtpd_tls_loglevel', 'warning', /overriding earlier entry/);
    has(findings, 'no-server-certificate', 'smtpd_tls_chain_files', 'warning');
  });
});
