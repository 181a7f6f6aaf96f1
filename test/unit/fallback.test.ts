// Plaintext fallback (issue 5 item 2): a plaintext session of a peer that failed a handshake shortly before.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { census } from '../../src/census/census.js';
import { FallbackDetector } from '../../src/correlate/fallback-detector.js';
import type { Session, SessionOutcome } from '../../src/model/types.js';
import { buildReport } from '../../src/render/report-model.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';

function session(
  ip: string,
  outcome: SessionOutcome,
  minute: number,
  direction: 'inbound' | 'outbound' = 'inbound',
): Session {
  return {
    mta: 'postfix',
    service: 'smtpd',
    direction,
    peer: { host: null, ip },
    startMs: Date.UTC(2026, 10, 20, 10, minute),
    endMs: null,
    outcome,
    handshake: null,
    failure: outcome === 'failed' ? { reason: 'unsupported-protocol', detail: '' } : null,
    messages: 1,
  };
}

describe('FallbackDetector', () => {
  it('marks plaintext that follows a failure of the same peer and direction within the window', () => {
    const d = new FallbackDetector(30 * 60_000);
    const before = session('192.0.2.1', 'plaintext', 0);
    const fail = session('192.0.2.1', 'failed', 5);
    const soon = session('192.0.2.1', 'plaintext', 6);
    const late = session('192.0.2.1', 'plaintext', 50);
    const otherPeer = session('192.0.2.2', 'plaintext', 6);
    const otherDirection = session('192.0.2.1', 'plaintext', 6, 'outbound');
    for (const s of [before, fail, soon, late, otherPeer, otherDirection]) d.mark(s);
    assert.deepEqual(
      [before, soon, late, otherPeer, otherDirection].map((s) => s.fallback === true),
      [false, true, false, false, false],
    );
  });
});

describe('fallback in the report', () => {
  it('counts a failed STARTTLS followed by a plaintext delivery from the same client', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-fallback-'));
    const p = path.join(dir, 'maillog');
    fs.writeFileSync(
      p,
      `${[
        'Nov 20 10:00:00 mx postfix/smtpd[7]: connect from old.example[192.0.2.1]',
        'Nov 20 10:00:01 mx postfix/smtpd[7]: SSL_accept error from old.example[192.0.2.1]: -1',
        'Nov 20 10:00:01 mx postfix/smtpd[7]: warning: TLS library problem: error:0A000102:SSL routines::unsupported protocol:../ssl/statem/statem_srvr.c:1664:',
        'Nov 20 10:00:01 mx postfix/smtpd[7]: lost connection after STARTTLS from old.example[192.0.2.1]',
        'Nov 20 10:00:01 mx postfix/smtpd[7]: disconnect from old.example[192.0.2.1] ehlo=1 starttls=0/1 commands=1/2',
        'Nov 20 10:00:02 mx postfix/smtpd[7]: connect from old.example[192.0.2.1]',
        'Nov 20 10:00:02 mx postfix/smtpd[7]: 4F1A22C0A1: client=old.example[192.0.2.1]',
        'Nov 20 10:00:03 mx postfix/smtpd[7]: disconnect from old.example[192.0.2.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5',
      ].join('\n')}\n`,
    );
    const r = await census(resolveInputs([p]), { year: 2026, timezone: 'UTC' });
    const report = buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs: null });
    assert.equal(report.inbound.totals.fallback, 1);
    assert.equal(report.inbound.totals.fallbackMessages, 1);
    assert.equal(report.inbound.plaintext[0]?.fallbackSessions, 1);
  });
});
