// What-if with master.cf (whatif-policy.ts servicePolicies, whatif.ts judgePeer): each service's sessions under its
// own `-o` settings. test/fixtures/whatif/master-cf.log (real Postfix line formats): office.example.net sends on
// port 25 with TLSv1.2 and, a printer behind the same address, on submission with TLSv1 only; a laptop and a
// modern MTA use TLSv1.3; one outbound delivery with TLSv1.2. The real-Postfix side of the same question (a
// master.cf change judged, then applied to a running Postfix) is test/integration/postfix/master-cf.sh.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import type { CensusView } from '../../src/aggregate/census-view.js';
import { census } from '../../src/census/census.js';
import { parseMainCf } from '../../src/policy/main-cf.js';
import { parseMasterCf } from '../../src/policy/master-cf.js';
import {
  evaluateWhatIf,
  type PeerVerdict,
  summarizeCommonPolicies,
  type WhatIfResult,
} from '../../src/policy/whatif.js';
import { policyFromFlags, policyFromMainCf } from '../../src/policy/whatif-policy.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { fixturePath, ROOT } from '../helpers/paths.js';

const LOG = fixturePath('whatif', 'master-cf.log');
const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const MAIN = parseMainCf('smtpd_tls_security_level = may\nsmtp_tls_security_level = may\n', { source: 'main.cf' });

const SUBMISSION = `smtp       inet n - y - - smtpd
submission inet n - y - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_mandatory_protocols=>=TLSv1.2
smtp       unix - - y - - smtp
relay      unix - - y - - smtp
  -o syslog_name=postfix/$service_name
`;

let perService: CensusView;
let whole: CensusView;
before(async () => {
  const inputs = () => resolveInputs([LOG]);
  perService = (await census(inputs(), { year: 2026, timezone: 'UTC', peersByService: true })).view;
  whole = (await census(inputs(), { year: 2026, timezone: 'UTC' })).view;
});

function whatif(view: CensusView, master: string | null, main = MAIN): WhatIfResult {
  return evaluateWhatIf(
    view,
    policyFromMainCf(main, {
      library: 'current',
      masterCf: master === null ? null : parseMasterCf(master, { source: 'master.cf' }),
    }),
  );
}

const peer = (r: WhatIfResult, host: string): PeerVerdict => {
  const p = r.peers.find((x) => x.peer.host === host);
  assert.ok(p, host);
  return p;
};
const verdict = (r: WhatIfResult, host: string) => `${peer(r, host).verdict}/${peer(r, host).certainty}`;

describe('what-if with master.cf', () => {
  it("judges each service's sessions under its own -o settings", () => {
    const r = whatif(perService, SUBMISSION);
    // Submission requires TLS ≥ 1.2 there: the printer's TLSv1 is refused; its port 25 mail is not.
    const office = peer(r, 'office.example.net');
    assert.equal(`${office.verdict}/${office.certainty}`, 'refused/certain');
    assert.equal(office.mandatory, true);
    assert.equal(office.affectedSessions, 1);
    assert.match(office.reason, /^on submission\/smtpd \(master\.cf submission\): .*TLSv1 is not allowed/);
    assert.match(
      office.reason,
      /while this server \(submission\/smtpd\) negotiated up to TLSv1\.3 .* TLS is mandatory on submission\/smtpd \(master\.cf submission\), by level encrypt: it could no longer send at all/,
    );
    assert.match(office.reason, /\(on smtpd \(master\.cf smtp\) it is unaffected\)$/);
    assert.deepEqual(
      office.handshakes.map((h) => [h.service, h.protocol, h.outcome]),
      [
        ['smtpd', 'TLSv1.2', 'kept'],
        ['submission/smtpd', 'TLSv1', 'blocked'],
      ],
    );
    assert.equal(verdict(r, 'laptop.example.org'), 'unaffected/certain');
    assert.equal(verdict(r, 'modern.example.com'), 'unaffected/certain');
    assert.equal(verdict(r, 'mx.partner.example'), 'unaffected/certain');
  });

  it('without master.cf, main.cf alone allows TLSv1 on submission', () => {
    assert.equal(verdict(whatif(perService, null), 'office.example.net'), 'unaffected/certain');
  });

  it('a submission service master.cf leaves at may is opportunistic: the printer would lose TLS, not be refused', () => {
    const r = whatif(
      perService,
      SUBMISSION.replace('smtpd_tls_security_level=encrypt', 'smtpd_tls_protocols=>=TLSv1.2'),
    );
    const office = peer(r, 'office.example.net');
    assert.equal(`${office.verdict}/${office.certainty}`, 'loses-tls/certain');
    assert.equal(office.mandatory, false);
  });

  it("without the census's per-service counts, judges the peer's services under their policies with its whole counts", () => {
    const office = peer(whatif(whole, SUBMISSION), 'office.example.net');
    // Its TLSv1.2 handshake (port 25) counts on submission too: it may keep TLS there.
    assert.equal(`${office.verdict}/${office.certainty}`, 'downgraded/likely');
    assert.equal(
      office.handshakes.every((h) => h.service === undefined),
      true,
    );
  });

  it('sessions of a service master.cf does not define stay under main.cf, with submission taken as mandatory', () => {
    const r = whatif(perService, 'smtp inet n - y - - smtpd\n');
    const office = peer(r, 'office.example.net');
    assert.equal(office.verdict, 'unaffected');
    assert.match(office.reason, /on submission\/smtpd \(main\.cf's settings\) it is unaffected/);
    assert.equal(office.mandatory, true);
    assert.ok(
      r.policy.inbound!.notes.some((n) =>
        /no smtpd service or smtp transport of master\.cf logs as, judged under main\.cf's settings: submission\/smtpd \(/.test(
          n,
        ),
      ),
    );
    assert.ok(!r.policy.outbound!.notes.some((n) => /no smtpd service/.test(n)), 'smtp is a transport of master.cf');
  });

  it('a service logged by several entries that disagree is undetermined; when they agree, it is judged', () => {
    const transports = `smtp unix - - y - - smtp
tls13 unix - - y - - smtp
  -o smtp_tls_protocols=>=TLSv1.3
`;
    const r = whatif(perService, transports);
    const mx = peer(r, 'mx.partner.example');
    assert.equal(`${mx.verdict}/${mx.certainty}`, 'undetermined/likely');
    assert.match(mx.reason, /smtp \(master\.cf smtp\): unaffected; smtp \(master\.cf tls13\): loses-tls/);
    assert.ok(
      r.policy.notes.some((n) =>
        /smtp is logged by master\.cf services with different TLS settings \(smtp, tls13\)/.test(n),
      ),
    );
    // Given its own syslog_name, tls13 is a service of its own, and smtp is judged.
    const apart = whatif(
      perService,
      transports.replace('  -o smtp_tls', '  -o syslog_name=postfix/tls13\n  -o smtp_tls'),
    );
    assert.equal(verdict(apart, 'mx.partner.example'), 'unaffected/certain');
    // Two entries alike are one configuration.
    const alike = whatif(perService, `${transports.split('\n')[0]}\nbackup unix - - y - - smtp\n`);
    assert.equal(verdict(alike, 'mx.partner.example'), 'unaffected/certain');
  });

  it("an entry that only talks over loopback served no remote peer: a content filter's way in and out", () => {
    // A content filter's way back in and its transport out, without syslog names of their own (a review).
    const filter = `smtp inet n - y - - smtpd
127.0.0.1:10025 inet n - n - - smtpd -o content_filter= -o smtpd_tls_security_level=none
smtp unix - - y - - smtp
amavis unix - - - - 2 smtp -o smtp_tls_security_level=none -o smtp_send_xforward_command=yes
`;
    const main = parseMainCf(
      'smtpd_tls_security_level = may\nsmtp_tls_security_level = may\ncontent_filter = amavis:[127.0.0.1]:10024\n',
    );
    const r = whatif(perService, filter, main);
    for (const host of ['office.example.net', 'modern.example.com', 'mx.partner.example']) {
      assert.equal(verdict(r, host), 'unaffected/certain', host);
    }
    // Raising port 25: judged under the smtp entry alone, not undetermined.
    const raised = whatif(
      perService,
      filter.replace('smtp inet n - y - - smtpd', 'smtp inet n - y - - smtpd -o smtpd_tls_protocols=>=TLSv1.3'),
      main,
    );
    assert.equal(verdict(raised, 'office.example.net'), 'loses-tls/certain');
    assert.match(peer(raised, 'office.example.net').reason, /^on smtpd \(master\.cf smtp\): /);
    // Without content_filter naming it, the amavis transport may have carried anything: undetermined.
    assert.equal(verdict(whatif(perService, filter), 'mx.partner.example'), 'undetermined/likely');
  });

  it('a proposal that turns TLS off on one of two entries that log alike is not hidden by the other (a review)', () => {
    const r = whatif(
      perService,
      'smtp inet n - y - - smtpd -o smtpd_tls_security_level=none\n2525 inet n - y - - smtpd\n',
    );
    const modern = peer(r, 'modern.example.com');
    assert.equal(`${modern.verdict}/${modern.certainty}`, 'undetermined/likely');
    assert.match(modern.reason, /smtpd \(master\.cf smtp\): loses-tls; smtpd \(master\.cf 2525\): unaffected/);
  });

  it("claims a client's best version only from its own service's traffic, and says where TLS is optional", () => {
    // Every client of the submission listener got TLSv1 there (others got TLSv1.3 on port 25): the listener
    // may have been the limit.
    const capped = whatif(
      perService,
      SUBMISSION.replace('smtpd_tls_security_level=encrypt', 'smtpd_tls_security_level=may').replace(
        '>=TLSv1.2',
        '>=TLSv1.2\n  -o smtpd_tls_protocols=>=TLSv1.2',
      ),
    );
    const office = peer(capped, 'office.example.net');
    // (The laptop's TLSv1.3 on submission is evidence there: certain.)
    assert.equal(`${office.verdict}/${office.certainty}`, 'loses-tls/certain');
    assert.match(office.reason, /this server \(submission\/smtpd\) negotiated up to TLSv1\.3/);
    assert.match(
      office.reason,
      /TLS is optional on submission\/smtpd \(master\.cf submission\): it would send in plaintext/,
    );
    assert.doesNotMatch(office.reason, /port 25/);
  });

  it("judges LMTP by what main.cf's smtp_tls_* cannot change: plaintext stays, TLS is undetermined", async () => {
    const lines = [
      'Nov 20 09:40:02 mx postfix/lmtp[3005]: 3A1B2C3D02: to=<bob@example.org>, relay=127.0.0.1[127.0.0.1]:24, delay=1, delays=0.1/0/0.5/0.4, dsn=2.0.0, status=sent (250 2.0.0 <bob@example.org> 4Fq2Ck7SHmWlAwAA0J78UA Saved)',
      'Nov 20 09:41:01 mx postfix/lmtp[3007]: Untrusted TLS connection established to mailstore.example.org[192.0.2.90]:24: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)',
      'Nov 20 09:41:02 mx postfix/lmtp[3007]: 3A1B2C3D05: to=<carol@example.org>, relay=mailstore.example.org[192.0.2.90]:24, delay=1, delays=0.1/0/0.5/0.4, dsn=2.0.0, status=sent (250 2.0.0 Ok)',
    ];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-lmtp-'));
    try {
      fs.writeFileSync(path.join(dir, 'maillog'), `${lines.join('\n')}\n`);
      const view = (await census(resolveInputs([path.join(dir, 'maillog')]), { year: 2026, timezone: 'UTC' })).view;
      const r = evaluateWhatIf(
        view,
        policyFromMainCf(parseMainCf('smtp_tls_security_level = encrypt\nsmtp_tls_protocols = >=TLSv1.3\n'), {
          library: 'current',
        }),
      );
      const byIp = Object.fromEntries(r.peers.map((p) => [p.peer.ip, `${p.verdict}/${p.certainty}`]));
      assert.deepEqual(byIp, { '127.0.0.1': 'unaffected/likely', '192.0.2.90': 'undetermined/likely' });
      assert.match(r.peers.find((p) => p.peer.ip === '127.0.0.1')!.reason, /lmtp_tls_\*/);
      // A main.cf that sets LMTP's own level: what-if does not model it, so nothing of LMTP can be judged.
      const set = evaluateWhatIf(
        view,
        policyFromMainCf(parseMainCf('smtp_tls_security_level = may\nlmtp_tls_security_level = encrypt\n'), {
          library: 'current',
        }),
      );
      const local = set.peers.find((p) => p.peer.ip === '127.0.0.1')!;
      assert.equal(local.verdict, 'undetermined');
      assert.match(local.reason, /main\.cf sets lmtp_tls_security_level = encrypt/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves out entries main.cf disables (master_service_disable: ignoring case, each ! toggling)', () => {
    const policy = policyFromMainCf(
      parseMainCf('smtpd_tls_security_level = may\nmaster_service_disable = Submission/INET, !!!smtp/inet, inet\n'),
      { library: 'current', masterCf: parseMasterCf(SUBMISSION) },
    );
    assert.deepEqual(
      policy.inbound!.services.map((s) => s.service),
      ['smtpd'],
    );
  });

  it("puts master.cf's services into the policy JSON", () => {
    const inbound = whatif(perService, SUBMISSION).policy.inbound!;
    assert.deepEqual(
      inbound.services.map((s) => [
        s.service,
        s.masterCf.map((e) => `${e.name}/${e.type}:${e.line}`),
        s.policies.length,
      ]),
      [
        ['smtpd', ['smtp/inet:1'], 1],
        ['submission/smtpd', ['submission/inet:2'], 1],
      ],
    );
    const submission = inbound.services[1]!;
    assert.deepEqual(submission.masterCf[0]!.overrides, [
      'syslog_name=postfix/submission',
      'smtpd_tls_security_level=encrypt',
      'smtpd_tls_mandatory_protocols=>=TLSv1.2',
    ]);
    assert.equal(submission.policies[0]!.allMandatory, true);
    assert.deepEqual(submission.policies[0]!.mandatory.protocols, ['TLSv1.2', 'TLSv1.3']);
    assert.equal(submission.policies[0]!.scope, 'submission/smtpd (master.cf submission)');
    const outbound = whatif(perService, SUBMISSION).policy.outbound!;
    assert.deepEqual(
      outbound.services.map((s) => s.service),
      ['smtp', 'relay/smtp'],
    );
  });
});

describe('a peer of several services without master.cf', () => {
  it('is judged on each service with its own sessions, by whatif, the HTML report and the library alike', () => {
    const cli = spawnSync(
      process.execPath,
      [CLI, 'whatif', '--year', '2026', '--format', 'json', '--min-protocol', 'TLSv1.2', LOG],
      { encoding: 'utf8' },
    );
    assert.equal(cli.status, 0, cli.stderr);
    // The printer's TLSv1 on submission, where TLS is required, is refused: its TLSv1.2 was on port 25.
    assert.equal(verdict(JSON.parse(cli.stdout), 'office.example.net'), 'refused/certain');
    const flags = policyFromFlags({ minProtocol: 'TLSv1.2', library: 'current', sections: ['inbound', 'outbound'] });
    assert.equal(verdict(evaluateWhatIf(perService, flags), 'office.example.net'), 'refused/certain');
    const summary = summarizeCommonPolicies(perService).find((x) => x.id === 'min-tls12')!;
    const office = summary.affected.find((x) => x.peer.host === 'office.example.net')!;
    assert.equal(`${office.verdict}/${office.certainty}`, 'refused/certain');
    const html = spawnSync(process.execPath, [CLI, 'report', '--year', '2026', '--format', 'html', LOG], {
      encoding: 'utf8',
    });
    assert.equal(html.status, 0, html.stderr);
    assert.match(
      html.stdout,
      /<span class="badge b-failed">refused<\/span><br><span class="sub">certain<\/span><\/td><td class="c"><span class="mono">office\.example\.net<\/span>/,
    );
  });
});

describe('what-if with master.cf: a real instance and the log it wrote', () => {
  it('its own main.cf and master.cf affect no inbound peer of its log; its smtp transports cannot be told apart', async () => {
    const dir = fixturePath('postfix-instance');
    const view = (
      await census(resolveInputs([fixturePath('corpus', 'postfix', 'maillog')]), {
        year: 2026,
        timezone: 'UTC',
        peersByService: true,
      })
    ).view;
    const r = evaluateWhatIf(
      view,
      policyFromMainCf(parseMainCf(fs.readFileSync(path.join(dir, 'main.cf'), 'utf8')), {
        library: 'current',
        masterCf: parseMasterCf(fs.readFileSync(path.join(dir, 'master.cf'), 'utf8')),
      }),
    );
    const inbound = r.peers.filter((p) => p.section === 'inbound');
    assert.ok(inbound.length > 0);
    assert.deepEqual(
      inbound.map((p) => [p.peer.ip, p.verdict]),
      inbound.map((p) => [p.peer.ip, 'unaffected']),
    );
    assert.deepEqual(inbound[0]!.services, ['relayin/smtpd', 'smtpd', 'smtps/smtpd', 'strict/smtpd']);
    assert.deepEqual(
      r.policy.inbound!.services.map((s) => [s.service, s.policies[0]!.allMandatory]),
      [
        ['smtpd', false],
        ['strict/smtpd', false],
        ['relayin/smtpd', false],
        ['smtps/smtpd', true],
      ],
    );
    // smtp, relay and the three test transports all log postfix/smtp, with different protocol settings.
    const smtp = r.policy.outbound!.services.find((s) => s.service === 'smtp')!;
    assert.deepEqual(
      smtp.masterCf.map((e) => e.name),
      ['smtp-tls12', 'smtp-tls10', 'smtp-notls', 'smtp', 'relay'],
    );
    assert.equal(smtp.policies.length, 4);
    assert.equal(r.peers.find((p) => p.section === 'outbound')!.verdict, 'undetermined');
  });
});

describe('whatif --master-cf on the command line', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, [CLI, 'whatif', '--year', '2026', ...args], { encoding: 'utf8' });

  it('reads the master.cf beside a main.cf by default, and not with --no-master-cf', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-master-cf-'));
    try {
      fs.writeFileSync(path.join(dir, 'main.cf'), 'smtpd_tls_security_level = may\n');
      fs.writeFileSync(path.join(dir, 'master.cf'), SUBMISSION);
      const json = (extra: string[]) => {
        const r = run(['--format', 'json', '--main-cf', path.join(dir, 'main.cf'), ...extra, LOG]);
        assert.equal(r.status, 0, r.stderr);
        return JSON.parse(r.stdout) as WhatIfResult;
      };
      assert.equal(verdict(json([]), 'office.example.net'), 'refused/certain');
      assert.match(json([]).policy.description, /with master\.cf .*master\.cf$/);
      assert.equal(verdict(json(['--no-master-cf']), 'office.example.net'), 'unaffected/certain');
      assert.equal(json(['--no-master-cf']).policy.inbound!.services.length, 0);
      // A file not named main.cf has no master.cf beside it.
      fs.copyFileSync(path.join(dir, 'main.cf'), path.join(dir, 'proposed.cf'));
      const other = run(['--format', 'json', '--main-cf', path.join(dir, 'proposed.cf'), LOG]);
      assert.equal(JSON.parse(other.stdout).policy.inbound.services.length, 0);
      // Given by name, any file.
      fs.renameSync(path.join(dir, 'master.cf'), path.join(dir, 'master.proposed'));
      const proposed = (format: string) =>
        run([
          '--format',
          format,
          '--main-cf',
          path.join(dir, 'proposed.cf'),
          '--master-cf',
          path.join(dir, 'master.proposed'),
          LOG,
        ]);
      assert.equal(verdict(JSON.parse(proposed('json').stdout), 'office.example.net'), 'refused/certain');
      // Markdown nests a service's settings under it; the list of services taken as mandatory is for the others.
      const md = proposed('md').stdout;
      assert.match(
        md,
        /\n- service submission\/smtpd \(master\.cf submission line 2: [^\n]*\n {2}- TLSv1\.2–TLSv1\.3, [^\n]*TLS required\n/,
      );
      assert.match(md, /- mandatory TLS \(services not in master\.cf: submissions, smtps\): /);
      // The table shows each service's settings.
      assert.match(
        proposed('table').stdout,
        /service submission\/smtpd \(master\.cf submission line 2: -o syslog_name=postfix\/submission -o smtpd_tls_security_level=encrypt -o smtpd_tls_mandatory_protocols=>=TLSv1\.2\):\n {4}TLSv1\.2–TLSv1\.3, .*; TLS required/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names an unreadable master.cf found beside main.cf as such, not as a flag never given', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-master-cf-'));
    try {
      fs.writeFileSync(path.join(dir, 'main.cf'), 'smtpd_tls_security_level = may\n');
      fs.mkdirSync(path.join(dir, 'master.cf'));
      const r = run(['--main-cf', path.join(dir, 'main.cf'), LOG]);
      assert.equal(r.status, 2);
      assert.match(
        r.stderr,
        /^error: the master\.cf beside --main-cf \(.*master\.cf\): is a directory\nhint: .*--no-master-cf/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says in one line what is wrong with --master-cf', () => {
    const alone = run(['--master-cf', '/etc/postfix/master.cf', LOG]);
    assert.equal(alone.status, 2);
    assert.match(alone.stderr, /^error: --master-cf needs --main-cf/);
    assert.doesNotMatch(alone.stderr, /at .*\.js:\d+/);
    const missing = run([
      '--main-cf',
      fixturePath('main-cf', 'levels-may.cf'),
      '--master-cf',
      '/nonexistent/master.cf',
      LOG,
    ]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /^error: --master-cf \/nonexistent\/master\.cf: no such file\nhint: /);
    const stdin = spawnSync(process.execPath, [CLI, 'whatif', '--main-cf', '-', '--master-cf', '-', LOG], {
      encoding: 'utf8',
      input: '',
    });
    assert.equal(stdin.status, 2);
    assert.match(stdin.stderr, /standard input can be only one of/);
  });

  it('warns about a bad master.cf line and an error in an override, with file and line', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-master-cf-'));
    try {
      fs.writeFileSync(path.join(dir, 'main.cf'), 'smtpd_tls_security_level = may\n');
      fs.writeFileSync(
        path.join(dir, 'master.cf'),
        'smtp inet n - y - - smtpd\nbroken inet n -\nsub inet n - y - - smtpd -o smtpd_tls_protocols=${oops\n  -o smtpd_client_restrictions=$undefined_elsewhere\n',
      );
      const r = run(['--main-cf', path.join(dir, 'main.cf'), LOG]);
      assert.equal(r.status, 0, r.stderr);
      const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning:'));
      assert.equal(warnings.length, 2, r.stderr);
      assert.match(warnings[0]!, /master\.cf:2: an entry needs 8 fields/);
      assert.match(warnings[1]!, /^warning: .*master\.cf:3: macro processing error/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
