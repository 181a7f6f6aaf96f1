// The what-if golden scenario: test/fixtures/whatif/golden.log, a handcrafted Postfix log (real line formats)
// whose right answers are known by construction. Every peer's verdict and every total is checked under
// `--min-protocol TLSv1.2`, under `--ciphers 'HIGH:!RC4:!SHA1'` and under test/fixtures/main-cf/whatif-golden.cf;
// then the command line (formats, exit codes, errors) and the audit's proposal for the same traffic.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import type { CensusView } from '../../src/aggregate/census-view.js';
import { census } from '../../src/census/census.js';
import { auditMainCf } from '../../src/policy/audit.js';
import { proposalText, proposePolicy } from '../../src/policy/audit-proposal.js';
import { parseMainCf, resolveParameter } from '../../src/policy/main-cf.js';
import { evaluateWhatIf, type WhatIfResult } from '../../src/policy/whatif.js';
import { policyFromFlags, policyFromMainCf } from '../../src/policy/whatif-policy.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { fixturePath, ROOT } from '../helpers/paths.js';

const LOG = fixturePath('whatif', 'golden.log');
const MAIN_CF = fixturePath('main-cf', 'whatif-golden.cf');
const SEED = fixturePath('main-cf', 'seed-main.cf');
const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

let view: CensusView;

before(async () => {
  view = (await census(resolveInputs([LOG]), { year: 2026, timezone: 'UTC' })).view;
});

/** `ip verdict/certainty` for every peer, in the order of the result (worst first). */
function table(r: WhatIfResult): Record<string, string> {
  return Object.fromEntries(
    r.peers.map((p) => [`${p.section} ${p.peer.host ?? 'unknown'}`, `${p.verdict}/${p.certainty}`]),
  );
}

function totals(r: WhatIfResult, section: 'inbound' | 'outbound'): Record<string, [number, number, number]> {
  const t = r.totals[section]!;
  return Object.fromEntries(
    Object.entries(t)
      .filter(([, x]) => x.peers > 0)
      .map(([v, x]) => [v, [x.peers, x.sessions, x.messages]]),
  );
}

const ALL = ['inbound', 'outbound', 'mailbox'] as const;

describe('whatif golden scenario', () => {
  it('--min-protocol TLSv1.2', () => {
    const r = evaluateWhatIf(view, policyFromFlags({ minProtocol: 'TLSv1.2', library: 'current', sections: ALL }));
    assert.deepEqual(table(r), {
      // TLSv1 only on submission, where TLS is mandatory: the client could no longer send at all.
      'inbound laptop.example.net': 'refused/certain',
      // TLSv1 only while others got TLSv1.3: TLSv1 is their best.
      'inbound old1.example.net': 'loses-tls/certain',
      'inbound old2.example.org': 'loses-tls/certain',
      'inbound unknown': 'loses-tls/certain',
      'outbound mx.legacy.example': 'loses-tls/certain',
      // TLSv1 once, TLSv1.2 twice: keeps TLS with TLSv1.2.
      'inbound mixed.example.com': 'downgraded/likely',
      'inbound modern.example.com': 'unaffected/certain',
      // RC4 on TLSv1.2: the protocol floor does not touch it.
      'inbound rc4.example.biz': 'unaffected/certain',
      'inbound tls12.example.com': 'unaffected/certain',
      'inbound plain.example.org': 'unaffected/certain',
      'inbound fail.example.com': 'unaffected/certain',
      'outbound mx.modern.example': 'unaffected/certain',
      'outbound mx.notls.example': 'unaffected/certain',
      'outbound mx.cbc.example': 'unaffected/certain',
    });
    assert.deepEqual(totals(r, 'inbound'), {
      refused: [1, 2, 2],
      'loses-tls': [3, 6, 6],
      downgraded: [1, 3, 3],
      unaffected: [5, 10, 9],
    });
    assert.deepEqual(totals(r, 'outbound'), { 'loses-tls': [1, 2, 2], unaffected: [3, 4, 4] });
  });

  it("--ciphers 'HIGH:!RC4:!SHA1' (TLS 1.2 suites only, protocols unchanged)", () => {
    const r = evaluateWhatIf(view, policyFromFlags({ ciphers: 'HIGH:!RC4:!SHA1', library: 'current', sections: ALL }));
    assert.deepEqual(table(r), {
      // TLSv1/TLSv1.1 peers: no allowed suite works below TLS 1.2, so certain.
      'inbound laptop.example.net': 'refused/certain',
      'inbound old1.example.net': 'loses-tls/certain',
      'inbound old2.example.org': 'loses-tls/certain',
      'inbound unknown': 'loses-tls/certain',
      'outbound mx.legacy.example': 'loses-tls/certain',
      // Its only suite RC4-SHA goes, on TLSv1.2: it may share another suite — likely.
      'inbound rc4.example.biz': 'loses-tls/likely',
      'outbound mx.cbc.example': 'loses-tls/likely',
      'inbound mixed.example.com': 'downgraded/likely',
      'inbound modern.example.com': 'unaffected/certain',
      'inbound tls12.example.com': 'unaffected/certain',
      'inbound plain.example.org': 'unaffected/certain',
      'inbound fail.example.com': 'unaffected/certain',
      'outbound mx.modern.example': 'unaffected/certain',
      'outbound mx.notls.example': 'unaffected/certain',
    });
    assert.deepEqual(totals(r, 'inbound'), {
      refused: [1, 2, 2],
      'loses-tls': [4, 8, 8],
      downgraded: [1, 3, 3],
      unaffected: [4, 8, 7],
    });
    assert.deepEqual(totals(r, 'outbound'), { 'loses-tls': [2, 3, 3], unaffected: [2, 3, 3] });
  });

  it('--main-cf whatif-golden.cf (TLS 1.2+ inbound, RC4 excluded inbound, client without SSLv3/TLSv1)', () => {
    const cf = parseMainCf(fs.readFileSync(MAIN_CF, 'utf8'), { source: 'whatif-golden.cf' });
    const r = evaluateWhatIf(view, policyFromMainCf(cf, { library: 'current' }));
    assert.deepEqual(table(r), {
      'inbound laptop.example.net': 'refused/certain',
      'inbound old1.example.net': 'loses-tls/certain',
      'inbound old2.example.org': 'loses-tls/certain',
      'inbound unknown': 'loses-tls/certain',
      'outbound mx.legacy.example': 'loses-tls/certain',
      'inbound rc4.example.biz': 'loses-tls/likely',
      'inbound mixed.example.com': 'downgraded/likely',
      'inbound modern.example.com': 'unaffected/certain',
      'inbound tls12.example.com': 'unaffected/certain',
      'inbound plain.example.org': 'unaffected/certain',
      'inbound fail.example.com': 'unaffected/certain',
      'outbound mx.modern.example': 'unaffected/certain',
      'outbound mx.notls.example': 'unaffected/certain',
      // medium keeps ECDHE-RSA-AES256-SHA for the client.
      'outbound mx.cbc.example': 'unaffected/certain',
    });
    assert.deepEqual(totals(r, 'inbound'), {
      refused: [1, 2, 2],
      'loses-tls': [4, 8, 8],
      downgraded: [1, 3, 3],
      unaffected: [4, 8, 7],
    });
    assert.deepEqual(totals(r, 'outbound'), { 'loses-tls': [1, 2, 2], unaffected: [3, 4, 4] });
  });

  it('smtp_tls_security_level = verify and secure: what the log shows of certificates decides', () => {
    // mx.legacy and mx.cbc showed "Untrusted" certificates and still got mail; mx.modern "Verified". A Verified
    // without any Trusted, beside Untrusted servers that got mail, is what DANE logs without CAs: the log shows no
    // trust anchors, so the Untrusted servers cannot be judged (a review).
    const judge = (text: string) =>
      evaluateWhatIf(view, policyFromMainCf(parseMainCf(text, { source: 'inline' }), { library: 'current' }));
    const judged = (level: string) =>
      table(
        judge(
          `smtpd_tls_security_level = may\nsmtp_tls_security_level = ${level}\nsmtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt\n`,
        ),
      );
    for (const level of ['verify', 'secure']) {
      const t = judged(level);
      assert.equal(t['outbound mx.legacy.example'], 'undetermined/likely', level);
      assert.equal(t['outbound mx.cbc.example'], 'undetermined/likely', level);
      // No TLS at all: mandatory TLS defers it, certain.
      assert.equal(t['outbound mx.notls.example'], 'refused/certain', level);
      assert.equal(t['inbound modern.example.com'], 'unaffected/certain', level);
    }
    // Verified under the policy then in force: verify likely passes; secure wants the destination's name.
    assert.equal(judged('verify')['outbound mx.modern.example'], 'unaffected/likely');
    assert.equal(judged('secure')['outbound mx.modern.example'], 'undetermined/likely');
    const r = judge('smtp_tls_security_level = verify\nsmtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt\n');
    assert.ok(r.policy.outbound!.notes.some((n) => /2 showed "Untrusted"/.test(n)));
    assert.deepEqual(totals(r, 'outbound'), { refused: [1, 1, 1], undetermined: [2, 3, 3], unaffected: [1, 2, 2] });
    // Without trust anchors nothing verifies: every TLS server is refused, and a note says why.
    const bare = judge('smtp_tls_security_level = verify\n');
    assert.deepEqual(totals(bare, 'outbound'), { refused: [4, 6, 6] });
    assert.ok(bare.policy.outbound!.notes.some((n) => /no trust anchors/.test(n)));
  });

  it('--openssl 3.0 on Postfix defaults: Postfix runs OpenSSL 3.0 at level 0, TLS 1.0/1.1 peers keep TLS (review)', () => {
    // The review's deb12.cf; real smtpd on Debian 12 (OpenSSL 3.0.19) completed TLSv1 and TLSv1.1 with it.
    const deb12 = parseMainCf(
      'smtpd_tls_security_level = may\nsmtp_tls_security_level = may\nsmtpd_tls_protocols = >=TLSv1\nsmtp_tls_protocols = >=TLSv1\n',
    );
    const r = evaluateWhatIf(view, policyFromMainCf(deb12, { library: '3.0' }));
    const t = table(r);
    for (const name of [
      'inbound laptop.example.net',
      'inbound old1.example.net',
      'inbound old2.example.org',
      'inbound unknown',
      'inbound mixed.example.com',
      'outbound mx.legacy.example',
    ]) {
      assert.equal(t[name], 'unaffected/certain', name);
    }
    // Debian's OpenSSL 3.0 has no RC4 at all: that is the library, not the level.
    assert.equal(t['inbound rc4.example.biz'], 'loses-tls/likely');

    // The audit's proposal under the 3.0 model follows: the same floors as under `current`.
    const findings = auditMainCf(deb12);
    const proposal = proposePolicy(view, deb12, findings, { maxBroken: 0, library: '3.0' });
    const value = (k: string) => proposal.lines.find((l) => l.parameter === k)?.value;
    assert.equal(value('smtpd_tls_protocols'), '>=TLSv1');
    assert.equal(value('smtp_tls_protocols'), '>=TLSv1');
    assert.deepEqual(proposal.baseline, ['rc4.example.biz[192.0.2.30]']);
  });

  it('the audit proposes the tightest policy within --max-broken', () => {
    const cf = parseMainCf(fs.readFileSync(SEED, 'utf8'));
    const findings = auditMainCf(cf);
    const zero = proposePolicy(view, cf, findings, { maxBroken: 0, library: 'current' });
    const value = (p: typeof zero, k: string) => p.lines.find((l) => l.parameter === k)?.value;
    assert.equal(value(zero, 'smtpd_tls_protocols'), '>=TLSv1');
    assert.deepEqual(zero.lines.find((l) => l.parameter === 'smtpd_tls_protocols')?.impact?.tighter, {
      value: '>=TLSv1.1',
      broken: ['old1.example.net[192.0.2.10]', 'old2.example.org[192.0.2.11]'],
    });
    assert.equal(value(zero, 'smtpd_tls_mandatory_protocols'), '>=TLSv1');
    assert.equal(value(zero, 'smtp_tls_protocols'), '>=TLSv1');
    assert.equal(value(zero, 'smtpd_tls_exclude_ciphers'), '');
    assert.equal(value(zero, 'smtp_tls_exclude_ciphers'), 'RC4, 3DES');
    assert.deepEqual(zero.total.broken, []);
    assert.ok(zero.remove.some((r) => r.parameter === 'tls_high_cipherlist'));

    const two = proposePolicy(view, cf, findings, { maxBroken: 2, library: 'current' });
    assert.equal(value(two, 'smtpd_tls_protocols'), '>=TLSv1.1');
    assert.deepEqual(two.total.broken.sort(), ['old1.example.net[192.0.2.10]', 'old2.example.org[192.0.2.11]']);
    // mixed.example.com keeps TLSv1.2: downgraded, not broken.
    assert.deepEqual(two.total.downgraded, ['mixed.example.com[192.0.2.20]']);

    // The block is a valid main.cf: no comment after a value, and Postfix would read exactly the proposal.
    const text = proposalText(two, 'window', (s) => s);
    const reread = parseMainCf(text);
    assert.deepEqual(reread.diagnostics, []);
    for (const line of two.lines) assert.equal(resolveParameter(reread, line.parameter).expanded, line.value);
  });
});

describe('audit proposal: what it fits (review)', () => {
  it('fits only the sides the logs have peers on, never proposes SSLv3, and refuses a subset of the peers', async () => {
    const cf = parseMainCf(fs.readFileSync(SEED, 'utf8'));
    const findings = auditMainCf(cf);
    // Inbound only: every outbound value would "break 0 peers"; the smtp_* lists are left out, and it says so.
    const inbound = (
      await census(resolveInputs([LOG]), { year: 2026, timezone: 'UTC', filter: { direction: 'inbound' } })
    ).view;
    const p = proposePolicy(inbound, cf, findings, { maxBroken: 0, library: 'current' });
    const has = (k: string) => p.lines.some((l) => l.parameter === k);
    assert.ok(has('smtpd_tls_protocols') && has('smtpd_tls_exclude_ciphers'));
    assert.ok(!has('smtp_tls_protocols') && !has('smtp_tls_mandatory_exclude_ciphers'));
    assert.match(
      proposalText(p, 'window', (s) => s),
      /# no outbound peers in the logs: smtp_tls_\*protocols/,
    );
    // An SSLv3 client (a real line's shape): in the baseline, not a reason to propose >=SSLv3.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-audit-sslv3-'));
    const log = path.join(dir, 'maillog');
    fs.writeFileSync(
      log,
      `${fs.readFileSync(LOG, 'utf8')}Nov 20 23:00:00 mx postfix/smtpd[999]: Anonymous TLS connection established from old3.example.net[192.0.2.99]: SSLv3 with cipher DHE-RSA-AES256-SHA (256/256 bits)\n`,
    );
    const withSsl3 = (await census(resolveInputs([log]), { year: 2026, timezone: 'UTC' })).view;
    const q = proposePolicy(withSsl3, cf, findings, { maxBroken: 0, library: 'current' });
    for (const line of q.lines) assert.ok(!line.value.includes('SSLv3'), line.parameter);
    assert.ok(q.baseline.includes('old3.example.net[192.0.2.99]'));
    // The CLI refuses what would hide peers the proposal governs.
    for (const flag of [['--service', 'submission'], ['--direction', 'in'], ['--exclude-unknown']]) {
      const r = run(['audit', '--main-cf', SEED, LOG, ...TIME, ...flag]);
      assert.equal(r.code, 2, flag.join(' '));
      assert.match(r.err, /^error: audit judges main.cf on every peer it governs/);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

function run(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    input,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const TIME = ['--year', '2026', '--timezone', 'UTC'];

describe('whatif and audit on the command line', () => {
  it('leads the table with the totals, then the affected peers, then the coverage line', () => {
    const r = run(['whatif', LOG, ...TIME, '--min-protocol', 'TLSv1.2']);
    assert.equal(r.code, 0);
    const lines = r.out.trimEnd().split('\n');
    assert.match(
      lines[2] ?? '',
      /^under this policy: 4 peers \/ 8 sessions \/ 8 messages would lose TLS, 1 peer \/ 2 sessions \/ 2 messages would be refused/,
    );
    assert.match(r.out, /refused +certain +laptop\.example\.net\[198\.51\.100\.7\]/);
    assert.match(lines.at(-1) ?? '', /^coverage: \d+ lines/);
  });

  it('prints JSON in the whatif@1 schema, CSV and Markdown', () => {
    const j = JSON.parse(run(['whatif', LOG, ...TIME, '--min-protocol', 'TLSv1.2', '-f', 'json']).out) as WhatIfResult;
    assert.equal(j.schema, 'tlscensus/whatif@1');
    assert.equal(j.policy.description, '--min-protocol TLSv1.2');
    assert.deepEqual(j.policy.inbound?.opportunistic.protocols, ['TLSv1.2', 'TLSv1.3']);
    const old1 = j.peers.find((p) => p.peer.ip === '192.0.2.10');
    assert.deepEqual(
      old1 && {
        direction: old1.direction,
        peer: old1.peer,
        verdict: old1.verdict,
        certainty: old1.certainty,
        sessions: old1.sessions,
        messages: old1.messages,
      },
      {
        direction: 'inbound',
        peer: { host: 'old1.example.net', ip: '192.0.2.10', domain: 'example.net' },
        verdict: 'loses-tls',
        certainty: 'certain',
        sessions: 3,
        messages: 3,
      },
    );
    assert.deepEqual(j.totals.outbound?.['loses-tls'], { peers: 1, sessions: 2, messages: 2, affectedSessions: 2 });
    const csv = run(['whatif', LOG, ...TIME, '--min-protocol', 'TLSv1.2', '-f', 'csv']).out;
    assert.match(csv.split('\r\n')[0] ?? '', /^direction,section,host,ip,domain,verdict,certainty,sessions,messages/);
    const md = run(['whatif', LOG, ...TIME, '--min-protocol', 'TLSv1.2', '-f', 'md']).out;
    assert.match(md, /\| refused \| certain \| laptop\.example\.net\\\[198\.51\.100\.7\\\] \|/);
  });

  it('exits 5 with --fail-on when a peer gets that verdict, 0 otherwise', () => {
    assert.equal(
      run(['whatif', LOG, ...TIME, '--min-protocol', 'TLSv1.2', '--fail-on', 'loses-tls,refused', '-f', 'json']).code,
      5,
    );
    assert.equal(
      run(['whatif', LOG, ...TIME, '--exclude-protocols', 'SSLv3', '--fail-on', 'loses-tls,refused', '-f', 'json'])
        .code,
      0,
    );
  });

  it('answers bad policies with one line and a hint, exit 2, before reading any log', () => {
    const cases: [string[], RegExp][] = [
      [['--min-protocol', 'TLS1.4'], /^error: --min-protocol: unknown protocol "TLS1\.4"/],
      [['--ciphers', 'NOPE'], /^error: --ciphers "NOPE": OpenSSL rejects it: no cipher match/],
      [['--main-cf', '/nonexistent/main.cf'], /^error: --main-cf \/nonexistent\/main\.cf: no such file/],
      [[], /^error: no policy to evaluate/],
      [['--main-cf', MAIN_CF, '--min-protocol', 'TLSv1.2'], /^error: --main-cf cannot be combined/],
      [['--min-protocol', 'TLSv1.2', '--fail-on', 'broken'], /^error: --fail-on: unknown verdict "broken"/],
    ];
    for (const [args, pattern] of cases) {
      const r = run(['whatif', '/nonexistent/mail.log', ...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, pattern);
      assert.match(r.err, /^hint: /m);
      assert.ok(!/\n\s+at /.test(r.err), 'no stack trace');
    }
  });

  it('audit exits 5 on the seed main.cf (error findings) and prints findings, proposal and impact as JSON', () => {
    const r = run(['audit', '--main-cf', SEED, LOG, ...TIME, '-f', 'json']);
    assert.equal(r.code, 5);
    const j = JSON.parse(r.out) as {
      schema: string;
      findings: { id: string; severity: string }[];
      proposal: Record<string, string>;
      impact: Record<string, { broken: number; downgrades: number }>;
    };
    assert.equal(j.schema, 'tlscensus/audit@1');
    assert.ok(j.findings.some((f) => f.id === 'protocols-invalid' && f.severity === 'error'));
    assert.equal(j.proposal.smtpd_tls_protocols, '>=TLSv1');
    assert.deepEqual(j.impact.smtpd_tls_protocols && { b: j.impact.smtpd_tls_protocols.broken }, { b: 0 });
    assert.equal(j.impact.total?.broken, 0);
  });

  it('audit exits 0 without error findings, and 2 without --main-cf', () => {
    const clean = run(['audit', '--main-cf', fixturePath('main-cf', 'audit-clean.cf')]);
    assert.equal(clean.code, 0, clean.out);
    assert.match(clean.out, /0 errors, 0 warnings/);
    const none = run(['audit']);
    assert.equal(none.code, 2);
    assert.match(none.err, /^error: audit needs --main-cf FILE/);
    const stdin = run(['audit', '--main-cf', '-'], 'smtpd_tls_protocols = !SSLv2 # comment\n');
    assert.equal(stdin.code, 5);
  });

  it('the HTML report carries the what-if section for the common policies', () => {
    const r = run(['report', LOG, ...TIME, '-f', 'html']);
    assert.equal(r.code, 0);
    assert.match(r.out, /<h2>What if…<\/h2>/);
    assert.match(r.out, /<h3>Minimum TLS 1\.2<\/h3>/);
    assert.match(r.out, /laptop\.example\.net/);
  });
});
