// The audit of master.cf's overrides (src/policy/audit-master-cf.ts) and the main.cf rule it shares the idea of
// (auth-before-starttls), the command line with master.cf, and the proposal judged with master.cf's overrides in
// force (test/fixtures/whatif/master-cf.log: a printer sends with TLSv1 on submission).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { census } from '../../src/census/census.js';
import { auditMainCf, type Finding } from '../../src/policy/audit.js';
import { auditMasterCf, REPLACED_BY_MASTER_CF } from '../../src/policy/audit-master-cf.js';
import { proposePolicy } from '../../src/policy/audit-proposal.js';
import { parseMainCf } from '../../src/policy/main-cf.js';
import { parseMasterCf } from '../../src/policy/master-cf.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { fixturePath, ROOT } from '../helpers/paths.js';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const MAIN = 'smtpd_tls_security_level = may\nsmtp_tls_security_level = may\nsmtpd_tls_protocols = >=TLSv1.2\n';

function audit(main: string, master: string): { main: Finding[]; master: Finding[] } {
  const cf = parseMainCf(main);
  const mainFindings = auditMainCf(cf);
  return { main: mainFindings, master: auditMasterCf(cf, parseMasterCf(master), mainFindings) };
}

const ids = (fs: Finding[]) => fs.map((f) => `${f.id}@${f.service ?? '-'}:${f.line}`);

describe('audit of master.cf', () => {
  it('wrapper mode and required TLS on port 25 (smtp, 25, host:smtp, postscreen pass), not on other services', () => {
    const { master } = audit(
      MAIN,
      `smtp inet n - y - - smtpd -o smtpd_tls_wrappermode=yes
192.0.2.1:25 inet n - y - - smtpd -o smtpd_tls_security_level=encrypt
smtpd pass - - y - - smtpd -o smtpd_tls_security_level=encrypt
127.0.0.1:25 inet n - y - - smtpd -o smtpd_tls_security_level=encrypt
submission inet n - y - - smtpd -o smtpd_tls_security_level=encrypt
submissions inet n - y - - smtpd -o smtpd_tls_wrappermode=yes
relay unix - - y - - smtp -o smtp_tls_security_level=encrypt
`,
    );
    // (127.0.0.1:25 is no public MX.)
    assert.deepEqual(ids(master), [
      'wrappermode-on-port-25@smtp:1',
      'encrypt-on-port-25@192.0.2.1:25:2',
      'encrypt-on-port-25@smtpd:3',
    ]);
    assert.equal(master[0]!.severity, 'error');
    assert.equal(master[0]!.file, 'master.cf');
    assert.match(master[0]!.message, /^master\.cf smtp \(inet\): wrapper mode on port 25/);
  });

  it("judges port 25 by what master.cf makes of main.cf's level (a review: main.cf's encrypt with port 25 set back to may)", () => {
    const main = 'smtpd_tls_security_level = encrypt\nsmtp_tls_security_level = may\n';
    assert.deepEqual(ids(audit(main, 'smtp inet n - y - - smtpd -o smtpd_tls_security_level=may\n').master), []);
    assert.deepEqual(ids(audit(main, 'smtp inet n - y - - smtpd\n').master), ['encrypt-on-port-25@smtp:1']);
    assert.ok(REPLACED_BY_MASTER_CF.has('encrypt-on-port-25'), "main.cf's own finding is replaced");
  });

  it('AUTH before STARTTLS: every smtpd entry that offers SASL without required TLS, auth_only or noplaintext', () => {
    const entries = (extra: string) => `submission inet n - y - - smtpd -o smtpd_sasl_auth_enable=yes ${extra}\n`;
    const plain = audit(MAIN, entries('')).master;
    assert.deepEqual(ids(plain), ['auth-before-starttls@submission:1']);
    assert.equal(plain[0]!.parameter, 'smtpd_sasl_auth_enable');
    assert.match(plain[0]!.fix, /^-o smtpd_tls_security_level=encrypt/);
    for (const fine of [
      '-o smtpd_tls_security_level=encrypt',
      '-o smtpd_tls_wrappermode=yes',
      '-o smtpd_tls_auth_only=yes',
      '-o { smtpd_sasl_security_options = noanonymous, noplaintext }',
    ]) {
      assert.deepEqual(audit(MAIN, entries(fine)).master, [], fine);
    }
    // SASL in main.cf: each entry that keeps it; on port 25 the fix is auth_only, never encrypt.
    const r = audit(
      `${MAIN}smtpd_sasl_auth_enable = yes\n`,
      'smtp inet n - y - - smtpd\nsubmission inet n - y - - smtpd -o smtpd_tls_security_level=encrypt\n',
    );
    assert.deepEqual(ids(r.master), ['auth-before-starttls@smtp:1']);
    assert.match(r.master[0]!.fix, /^-o smtpd_tls_auth_only=yes/);
    // main.cf's own (replaced by these when master.cf is read) names the line that enables SASL.
    const own = r.main.filter((f) => f.id === 'auth-before-starttls');
    assert.deepEqual(
      own.map((f) => [f.parameter, f.line]),
      [['smtpd_sasl_auth_enable', 4]],
    );
    for (const fine of ['smtpd_tls_auth_only = yes', 'smtpd_sasl_security_options = noanonymous, noplaintext']) {
      assert.deepEqual(
        auditMainCf(parseMainCf(`${MAIN}smtpd_sasl_auth_enable = yes\n${fine}\n`)).filter(
          (f) => f.id === 'auth-before-starttls',
        ),
        [],
        fine,
      );
    }
  });

  it("runs main.cf's rules on each entry's overrides, says each fix as an override, and repeats nothing of main.cf", () => {
    const { master } = audit(
      `${MAIN}smtp_tls_ciphers = export\n`,
      `submission inet n - y - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_mandatory_protocols=!SSLv2,!SSLv3,!TLSv1.1
relay unix - - y - - smtp -o smtp_tls_ciphers=export
backup unix - - y - - smtp -o smtp_tls_ciphers=low
smtp inet n - y - - smtpd -o smtpd_tls_protocols=>=TLSv1.2
out unix - - y - - smtp -o smtp_tls_security_level=secure
dane unix - - y - - smtp -o smtp_tls_security_level=dane-only
quiet inet n - y - - smtpd -o smtpd_tls_security_level=
`,
    );
    // (relay's export grade is main.cf's own finding, in the same words; smtp's >=TLSv1.2 is fine.) Findings
    // about another parameter than the one overridden count too: no trust anchors for secure, DNSSEC for dane-only.
    assert.deepEqual(ids(master), [
      'protocols-tls10-11@submission:1',
      'protocols-gap@submission:1',
      'cipher-grade-weak@backup:5',
      'no-trust-anchors@out:7',
      'dane-without-dnssec@dane:8',
      'security-level-missing@quiet:9',
      'protocols-exclusion-syntax@submission:1',
    ]);
    assert.equal(master[0]!.fix, '-o smtpd_tls_mandatory_protocols=>=TLSv1.2');
  });

  it('ignores the settings an entry does not use, and says an override of one has no effect', () => {
    // Where TLS is required Postfix uses the *_mandatory_* protocols and ciphers (postconf(5)); where it is optional
    // the others (a review: "high" on submission was said to send clients to plaintext).
    const { master } = audit(
      MAIN,
      `submission inet n - y - - smtpd -o smtpd_tls_security_level=encrypt -o smtpd_tls_ciphers=high -o smtpd_tls_protocols=>=TLSv1.3
submissions inet n - y - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_tls_ciphers=high
smtp inet n - y - - smtpd -o smtpd_tls_mandatory_ciphers=low
`,
    );
    assert.deepEqual(
      master.map((f) => `${f.id}@${f.service}:${f.parameter}`),
      [
        'override-unused@submission:smtpd_tls_ciphers',
        'override-unused@submission:smtpd_tls_protocols',
        'override-unused@submissions:smtpd_tls_ciphers',
        'override-unused@smtp:smtpd_tls_mandatory_ciphers',
      ],
    );
    assert.match(master[0]!.message, /TLS is required on this entry, so Postfix uses smtpd_tls_mandatory_ciphers/);
    assert.match(master[3]!.message, /TLS is optional on this entry, so Postfix uses smtpd_tls_ciphers/);
  });

  it('says a fix in words as it is, never inside an override (a review: a remark ended up as the value)', () => {
    const { master } = audit(MAIN, 'smtp inet n - y - - smtpd -o smtpd_tls_ciphers=high\n');
    const high = master.find((f) => f.id === 'cipher-grade-high-opportunistic')!;
    assert.match(high.fix, /^in this entry: smtpd_tls_ciphers = medium/);
  });

  it("takes a content filter's TLS off for what it is: no security-level-none", () => {
    const { master } = audit(
      MAIN,
      `127.0.0.1:10025 inet n - n - - smtpd -o content_filter= -o smtpd_tls_security_level=none
amavis unix - - - - 2 smtp -o smtp_tls_security_level=none
192.0.2.1:2525 inet n - n - - smtpd -o smtpd_tls_security_level=none
`,
    );
    assert.deepEqual(ids(master), ['security-level-none@192.0.2.1:2525:3']);
  });

  it('leaves out entries main.cf disables (master_service_disable)', () => {
    const { master } = audit(
      `${MAIN}master_service_disable = smtp/inet\n`,
      'smtp inet n - y - - smtpd -o smtpd_tls_wrappermode=yes\n',
    );
    assert.deepEqual(master, []);
  });

  it("reports master.cf's own errors and an error in an override value", () => {
    const { master } = audit(MAIN, 'short inet n -\nsub inet n - y - - smtpd -o smtpd_tls_protocols=$(oops\n');
    assert.deepEqual(
      master.map((f) => [f.id, f.severity, f.line]),
      [
        ['master-cf-syntax', 'error', 1],
        ['master-cf-syntax', 'error', 2],
      ],
    );
    assert.match(master[0]!.message, /8 fields/);
    assert.match(master[1]!.message, /^master\.cf sub \(inet\): macro processing error/);
  });
});

describe('audit --master-cf on the command line', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [CLI, 'audit', ...args], { encoding: 'utf8' });

  it('audits the master.cf beside main.cf: findings with file and service, exit 5 on an error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-audit-master-'));
    try {
      fs.writeFileSync(path.join(dir, 'main.cf'), MAIN);
      fs.writeFileSync(path.join(dir, 'master.cf'), 'smtp inet n - y - - smtpd\n  -o smtpd_tls_wrappermode=yes\n');
      const json = run(['--format', 'json', '--main-cf', path.join(dir, 'main.cf')]);
      assert.equal(json.status, 5, json.stderr);
      const data = JSON.parse(json.stdout);
      assert.equal(data.masterCf, path.join(dir, 'master.cf'));
      const f = data.findings.find((x: Finding) => x.id === 'wrappermode-on-port-25');
      assert.deepEqual([f.file, f.service, f.line, f.severity], ['master.cf', 'smtp', 1, 'error']);
      const table = run(['--main-cf', path.join(dir, 'main.cf')]).stdout;
      assert.match(table, /^tlscensus audit · .*main\.cf with master\.cf .*master\.cf · 1 error/);
      assert.match(table, /ERROR {3}wrappermode-on-port-25 · smtpd_tls_wrappermode \(master\.cf line 1\)/);
      const csv = run(['--format', 'csv', '--main-cf', path.join(dir, 'main.cf')]).stdout.split('\r\n');
      assert.equal(csv[0], 'severity,id,parameter,line,message,fix,file,service');
      assert.ok(csv.some((l) => l.startsWith('error,wrappermode-on-port-25,') && l.endsWith(',master.cf,smtp')));
      const none = run(['--format', 'json', '--main-cf', path.join(dir, 'main.cf'), '--no-master-cf']);
      assert.equal(none.status, 0, none.stderr);
      assert.equal(JSON.parse(none.stdout).masterCf, null);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('audit with master.cf on the command line: what main.cf alone would say, and what its proposal removes', () => {
  it("drops main.cf's port 25 finding where master.cf sets port 25 back, and proposes removing only what main.cf sets", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-audit-master-'));
    try {
      fs.writeFileSync(
        path.join(dir, 'main.cf'),
        'smtpd_tls_security_level = encrypt\nsmtp_tls_security_level = may\nsmtpd_tls_loglevel = 1\nsmtp_tls_loglevel = 1\n',
      );
      fs.writeFileSync(
        path.join(dir, 'master.cf'),
        'smtp inet n - y - - smtpd -o smtpd_tls_security_level=may -o tls_high_cipherlist=AES256-SHA\n',
      );
      const r = spawnSync(
        process.execPath,
        [
          CLI,
          'audit',
          '--format',
          'json',
          '--main-cf',
          path.join(dir, 'main.cf'),
          fixturePath('..', '..', 'samples', 'maillog'),
        ],
        { encoding: 'utf8' },
      );
      const data = JSON.parse(r.stdout);
      assert.deepEqual(
        data.findings.filter((f: Finding) => f.id === 'encrypt-on-port-25'),
        [],
        'main.cf says encrypt, master.cf sets port 25 back to may',
      );
      assert.ok(data.findings.some((f: Finding) => f.id === 'cipherlist-overridden' && f.file === 'master.cf'));
      assert.ok(data.proposal !== null, r.stderr);
      assert.deepEqual(
        data.remove.map((x: { parameter: string }) => x.parameter).filter((p: string) => p === 'tls_high_cipherlist'),
        [],
        'tls_high_cipherlist is set in master.cf, not main.cf',
      );
      // Without master.cf, main.cf's own finding stands.
      const alone = spawnSync(
        process.execPath,
        [CLI, 'audit', '--format', 'json', '--no-master-cf', '--main-cf', path.join(dir, 'main.cf')],
        { encoding: 'utf8' },
      );
      assert.ok(JSON.parse(alone.stdout).findings.some((f: Finding) => f.id === 'encrypt-on-port-25' && !f.file));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the proposal with master.cf', () => {
  it("leaves a service's own override in force: a main.cf change does not reach it", async () => {
    const view = (
      await census(resolveInputs([fixturePath('whatif', 'master-cf.log')]), {
        year: 2026,
        timezone: 'UTC',
        peersByService: true,
      })
    ).view;
    const cf = parseMainCf('smtpd_tls_security_level = may\nsmtp_tls_security_level = may\n');
    const findings = auditMainCf(cf);
    const options = { maxBroken: 0, library: 'current' as const };
    const broken = (p: ReturnType<typeof proposePolicy>, parameter: string) =>
      p.lines.find((l) => l.parameter === parameter)?.impact?.tighter?.broken ?? [];
    // Without master.cf, submission (taken as mandatory) would refuse the printer at >=TLSv1.2: held back.
    const plain = proposePolicy(view, cf, findings, options);
    assert.ok(
      broken(plain, 'smtpd_tls_mandatory_protocols').some((p) => p.includes('office.example.net')),
      JSON.stringify(plain.lines.map((l) => [l.parameter, l.value])),
    );
    // With master.cf keeping TLSv1 on submission (its own -o), main.cf can go to >=TLSv1.2 unhindered.
    const master = parseMasterCf(
      'smtp inet n - y - - smtpd\nsubmission inet n - y - - smtpd -o syslog_name=postfix/submission -o smtpd_tls_security_level=encrypt -o smtpd_tls_mandatory_protocols=>=TLSv1\n',
    );
    const withMaster = proposePolicy(view, cf, findings, { ...options, masterCf: master });
    assert.equal(withMaster.lines.find((l) => l.parameter === 'smtpd_tls_mandatory_protocols')?.value, '>=TLSv1.2');
    assert.notEqual(plain.lines.find((l) => l.parameter === 'smtpd_tls_mandatory_protocols')?.value, '>=TLSv1.2');
  });
});
