// `--mta auto` (the default) picks the dialect per line: one syslog mail.log with Postfix and Dovecot lines is
// counted in one run, IMAP/POP3 logins go to the mailbox section without touching the SMTP figures, and the
// report names the MTAs and services it saw. Input: samples/maillog (genlog, seed sample-c), which interleaves
// Postfix with `dovecot: imap-login:` / `pop3-login:` lines the way one syslog file does.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { census } from '../../src/census/census.js';
import { buildReport, type ReportData } from '../../src/render/report-model.js';
import { renderTable } from '../../src/render/table.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { ROOT } from '../helpers/paths.js';

const SAMPLE = path.join(ROOT, 'samples', 'maillog');

async function report(mta: string[] | undefined): Promise<ReportData> {
  const r = await census(resolveInputs([SAMPLE]), {
    year: 2026,
    timezone: 'UTC',
    ...(mta ? { mta } : {}),
  });
  return buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs: null });
}

/** An independent count of the Dovecot login-process lines, by the elements log-formats.md §6 describes. */
function countDovecotLogins(): { services: Set<string>; tls: number; failed: number; total: number } {
  const services = new Set<string>();
  let tls = 0;
  let failed = 0;
  let total = 0;
  for (const line of fs.readFileSync(SAMPLE, 'utf8').split('\n')) {
    const m = / dovecot(?:\[\d+\])?: (\w+)-login: .* rip=/.exec(line);
    if (!m) continue;
    total++;
    services.add(m[1]!);
    if (/, TLS handshaking\b/.test(line)) failed++;
    else if (/, TLS(?:, |: |$)/.test(line)) tls++;
  }
  return { services, tls, failed, total };
}

describe('--mta auto over a mail.log with Postfix and Dovecot lines', () => {
  it('counts both in one run and names the MTAs and services it saw', async () => {
    const r = await report(undefined);
    assert.deepEqual(r.mtas, ['dovecot', 'postfix']);
    for (const s of ['smtpd', 'submission/smtpd', 'smtp', 'imap', 'pop3']) assert.ok(r.services.includes(s), s);
    const table = renderTable(r, { color: false, top: 5 });
    assert.match(table, /^tlscensus · .* · dovecot, postfix$/m);
    assert.match(table, /^IMAP\/POP3 \(imap, pop3\) {2}/m);
  });

  it('puts every Dovecot login in the mailbox section', async () => {
    const r = await report(undefined);
    const expected = countDovecotLogins();
    assert.ok(expected.total > 400, 'the sample has Dovecot logins');
    const m = r.mailbox.totals;
    assert.deepEqual([m.sessions, m.tls, m.failed], [expected.total, expected.tls, expected.failed]);
    assert.deepEqual(new Set(r.services.filter((s) => s === 'imap' || s === 'pop3')), expected.services);
    // genlog's Dovecot logs the default elements (no %k): TLS of unknown protocol and suite.
    assert.deepEqual(
      r.mailbox.spread.map((s) => [s.protocol, s.cipher]),
      [['unknown', '(not logged)']],
    );
  });

  it('leaves the SMTP figures exactly as a Postfix-only run counts them', async () => {
    const mixed = await report(undefined);
    const postfixOnly = await report(['postfix']);
    assert.deepEqual(mixed.inbound, postfixOnly.inbound);
    assert.deepEqual(mixed.outbound, postfixOnly.outbound);
    assert.equal(postfixOnly.mailbox.totals.sessions, 0);
    // The sample's own ground truth (samples/maillog.truth.json): smtpd TLS sessions + tlsproxy handshakes.
    const truth = JSON.parse(fs.readFileSync(path.join(ROOT, 'samples', 'maillog.truth.json'), 'utf8')) as {
      inbound_tls: { lines: number };
    };
    assert.equal(mixed.inbound.totals.tls, truth.inbound_tls.lines);
  });

  it('counts Dovecot alone with --mta dovecot, the Postfix lines then being foreign', async () => {
    const r = await report(['dovecot']);
    assert.deepEqual(r.mtas, ['dovecot']);
    assert.equal(r.inbound.totals.sessions, 0);
    assert.equal(r.mailbox.totals.sessions, countDovecotLogins().total);
  });
});
