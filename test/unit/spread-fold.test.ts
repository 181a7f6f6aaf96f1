// Cipher names not in the suite table are kept apart up to MAX_UNKNOWN_SUITES per section; later new ones are
// folded into FOLDED_CIPHER (spread row, peer suites, metrics alike), so that a forged log naming a new cipher on
// every line cannot grow memory and the report with the log (it took 618 MiB and a 143 MB report for 73 MB of
// such lines). mergeViews folds in the same order one pass does; a range census falls back rather than merge
// views that fold.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import zlib from 'node:zlib';
import {
  addSession,
  type CensusView,
  emptyView,
  FOLDED_CIPHER,
  FOLDED_SERVICE,
  MAX_SERVICES,
  MAX_SPELLINGS,
  MAX_UNKNOWN_SUITES,
  mergeViews,
} from '../../src/aggregate/census-view.js';
import { census } from '../../src/census/census.js';
import { HourBuckets } from '../../src/history/hour-buckets.js';
import type { Session } from '../../src/model/types.js';
import { buildReport } from '../../src/render/report-model.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { canonicalBatch } from '../helpers/history-batch.js';
import { reportOfView } from '../helpers/view-report.js';

const T0 = Date.UTC(2026, 10, 20);

/** A TLS session of peer `n` with the given cipher (a real one when `cipher` is null), inbound SMTP or IMAP. */
function session(n: number, cipher: string | null, service = 'smtpd'): Session {
  return {
    mta: service === 'imap' ? 'dovecot' : 'postfix',
    service,
    direction: 'inbound',
    peer: { host: null, ip: `10.0.${n >> 8}.${n & 255}` },
    startMs: T0 + n * 1000,
    endMs: T0 + n * 1000 + 500,
    outcome: 'tls',
    handshake: { protocol: 'TLSv1.2', cipher: cipher ?? 'ECDHE-RSA-AES256-GCM-SHA384', bits: null, trust: null },
    failure: null,
    messages: 1,
  };
}

/** Everything a report and the peer tables say about a view. */
function describeView(v: CensusView): string {
  const report = reportOfView(v);
  const peers = [v.inbound, v.outbound, v.mailbox].map((d) =>
    [...d.peers.values()]
      .map((p) => `${p.peer.ip} ${[...p.suites].sort().join(',')} ${[...p.services].join(',')}`)
      .sort(),
  );
  return JSON.stringify({ report, peers }, null, 1);
}

/** Sessions naming `count` distinct unknown ciphers from `first` on (every other one a real suite, some IMAP). */
function forged(first: number, count: number): Session[] {
  const out: Session[] = [];
  for (let i = first; i < first + count; i++) {
    out.push(session(i, `FORGED-${i}`, i % 5 === 0 ? 'imap' : 'smtpd'));
    out.push(session(i, null));
  }
  return out;
}

describe('spread: cipher names not in the suite table', () => {
  it('keeps the first MAX_UNKNOWN_SUITES of a section apart and folds the later new ones', () => {
    const v = emptyView();
    const sessions = forged(0, 400);
    for (const s of sessions) addSession(v, s);
    const unknown = [...v.inbound.spread.values()].filter((r) => r.iana === null);
    assert.equal(unknown.length, MAX_UNKNOWN_SUITES + 1);
    const folded = v.inbound.spread.get(`TLSv1.2|${FOLDED_CIPHER}`)!;
    assert.ok(folded.note?.includes('likely forged'));
    // 400 names, one in five IMAP (their own section, which stays under the cap): 320 SMTP names, 64 folded.
    assert.equal(folded.count, 320 - MAX_UNKNOWN_SUITES);
    assert.equal(v.inbound.folded, 320 - MAX_UNKNOWN_SUITES);
    assert.equal(v.mailbox.folded, 0);
    assert.ok(v.inbound.spread.has('TLSv1.2|FORGED-1') && !v.inbound.spread.has('TLSv1.2|FORGED-399'));
    // Counted once each, everywhere: totals, rows, peers and metrics.
    const rows = [...v.inbound.spread.values()].reduce((n, r) => n + r.count, 0);
    assert.equal(rows, v.inbound.totals.tls);
    assert.deepEqual([...v.inbound.peers.get('10.0.1.143')!.suites].sort(), [
      [`TLSv1.2|${FOLDED_CIPHER}`, 1],
      ['TLSv1.2|ECDHE-RSA-AES256-GCM-SHA384', 1],
    ]);
    const metrics = [...v.counters].filter(([k]) => k.includes(FOLDED_CIPHER));
    assert.equal(metrics.length, 1);
    assert.equal(metrics[0]![1], 320 - MAX_UNKNOWN_SUITES);
    assert.ok(![...v.counters.keys()].some((k) => k.includes('FORGED-399')));
  });

  it('merges as one pass folds: the names of the later view after those of the earlier one', () => {
    const sessions = [...forged(0, 200), ...forged(100, 250), ...forged(600, 30)];
    const onePass = emptyView();
    for (const s of sessions) addSession(onePass, s);
    for (const cut of [0, 150, 400, 800, sessions.length]) {
      const a = emptyView();
      const b = emptyView();
      for (const s of sessions.slice(0, cut)) addSession(a, s);
      for (const s of sessions.slice(cut)) addSession(b, s);
      if (b.inbound.folded > 0) continue; // a view that folded cannot know which names the other one kept
      assert.equal(describeView(mergeViews(a, b)), describeView(onePass), `cut at ${cut}`);
    }
  });
});

describe('spellings: one known suite spelled in more ways than a row keeps', () => {
  /** `ECDHE-RSA-AES256-GCM-SHA384` with the case of its letters set by the bits of `n` (all one suite). */
  function spelling(n: number): string {
    let bit = 0;
    return [...'ECDHE-RSA-AES256-GCM-SHA384']
      .map((c) => (/[A-Z]/.test(c) && (n >> bit++) & 1 ? c.toLowerCase() : c))
      .join('');
  }
  const spelled = (first: number, count: number) =>
    Array.from({ length: count }, (_, k) => session(first + k, spelling(first + k)));

  it('keeps MAX_SPELLINGS and counts the later new ones under the IANA name', () => {
    const v = emptyView();
    for (const s of spelled(0, 40)) addSession(v, s);
    const [row] = [...v.inbound.spread.values()];
    assert.equal(v.inbound.spread.size, 1);
    assert.equal(row!.spellings.size, MAX_SPELLINGS + 1);
    assert.equal(row!.spellings.get('TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384'), 40 - MAX_SPELLINGS);
    assert.equal(row!.count, 40);
    assert.equal(v.inbound.folded, 40 - MAX_SPELLINGS);
    assert.deepEqual(
      [...v.inbound.peers.get('10.0.0.39')!.suites],
      [['TLSv1.2|TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 1]],
    );
  });

  it('merges as one pass respells them', () => {
    const sessions = [...spelled(0, 10), ...spelled(5, 10), ...spelled(100, 5)];
    const onePass = emptyView();
    for (const s of sessions) addSession(onePass, s);
    assert.ok(onePass.inbound.folded > 0);
    for (const cut of [0, 10, 15, sessions.length]) {
      const a = emptyView();
      const b = emptyView();
      for (const s of sessions.slice(0, cut)) addSession(a, s);
      for (const s of sessions.slice(cut)) addSession(b, s);
      if (b.inbound.folded > 0) continue;
      assert.equal(describeView(mergeViews(a, b)), describeView(onePass), `cut at ${cut}`);
    }
  });
});

describe('services: more than a view keeps apart', () => {
  /** Sessions of services `svc-<first>` … (a forged syslog name each), every other one plain `smtpd`. */
  function services(first: number, count: number): Session[] {
    const out: Session[] = [];
    for (let i = first; i < first + count; i++) out.push(session(i, null, `svc-${i}/smtpd`), session(i, null));
    return out;
  }

  it('keeps the first MAX_SERVICES apart and folds the later new ones, everywhere', () => {
    const v = emptyView();
    for (const s of services(0, 100)) addSession(v, s);
    assert.equal(v.services.size, MAX_SERVICES + 1);
    assert.ok(v.services.has(FOLDED_SERVICE) && v.servicesFolded);
    const row = [...v.inbound.spread.values()][0]!;
    assert.ok(row.services.has(FOLDED_SERVICE) && !row.services.has('svc-99/smtpd'));
    assert.deepEqual([...v.inbound.peers.get('10.0.0.99')!.services].sort(), [FOLDED_SERVICE, 'smtpd']);
    assert.ok([...v.counters.keys()].some((k) => k.includes(FOLDED_SERVICE)));
    assert.ok(![...v.counters.keys()].some((k) => k.includes('svc-99')));
  });

  it('merges as one pass folds them', () => {
    const sessions = [...services(0, 40), ...services(20, 40), ...services(200, 10)];
    const onePass = emptyView();
    for (const s of sessions) addSession(onePass, s);
    assert.ok(onePass.servicesFolded);
    for (const cut of [0, 30, 80, 140, sessions.length]) {
      const a = emptyView();
      const b = emptyView();
      for (const s of sessions.slice(0, cut)) addSession(a, s);
      for (const s of sessions.slice(cut)) addSession(b, s);
      if (b.servicesFolded) continue;
      assert.equal(describeView(mergeViews(a, b)), describeView(onePass), `cut at ${cut}`);
    }
  });
});

describe('range census: a log naming more unknown ciphers than a view keeps apart', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-fold-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** 3,000 inbound TLS sessions over a day, a third of them naming a cipher of their own (1,000 forged names). */
  function forgedLines(): string[] {
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const stamp = `Nov 20 ${String(Math.floor(i / 120)).padStart(2, '0')}:${String(Math.floor(i / 2) % 60).padStart(2, '0')}:00`;
      const peer = `h${i}.example[10.1.${i >> 8}.${i & 255}]`;
      const cipher = i % 3 === 0 ? `FORGED-${i}` : 'ECDHE-RSA-AES256-GCM-SHA384';
      lines.push(`${stamp} mx1 postfix/smtpd[${100 + (i % 7)}]: connect from ${peer}`);
      lines.push(
        `${stamp} mx1 postfix/smtpd[${100 + (i % 7)}]: Anonymous TLS connection established from ${peer}: TLSv1.2 with cipher ${cipher} (256/256 bits)`,
      );
      lines.push(
        `${stamp} mx1 postfix/smtpd[${100 + (i % 7)}]: disconnect from ${peer} ehlo=2 starttls=1 quit=1 commands=4`,
      );
    }
    return lines;
  }

  it('reads on from the seam and equals one pass', async () => {
    const lines = forgedLines();
    const file = path.join(dir, 'forged.log');
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    fs.writeFileSync(`${file}.gz`, zlib.gzipSync(`${lines.join('\n')}\n`));
    // As a rotation set too (set.log.2, set.log.1, set.log), counted in runs of whole files.
    const set = [2, 1, 0].map((n, k) => {
      const name = path.join(dir, n === 0 ? 'set.log' : `set.log.${n}`);
      fs.writeFileSync(name, `${lines.slice(k * 3000, (k + 1) * 3000).join('\n')}\n`);
      return name;
    });
    for (const files of [[file], [`${file}.gz`], set]) await sameAsOnePass(files);
  });

  it('reads on when the history holds more names than it keeps, though the filter keeps the view small', async () => {
    // The history takes every session, the view only those the filter keeps: a range's uncapped history would grow
    // with the forged names (the reviewer's case: 50,000 names in a range's history, 276 keys on one thread).
    const file = path.join(dir, 'forged-filtered.log');
    fs.writeFileSync(file, `${forgedLines().join('\n')}\n`);
    const run = async (threads: number) => {
      const history = new HourBuckets();
      const r = await census(resolveInputs([file]), {
        timezone: 'UTC',
        threads,
        filter: { direction: 'outbound' },
        history,
        parallel: { rangeMinBytes: 0, warmupMs: 60 * 60 * 1000 },
      });
      return { batch: canonicalBatch(history.take()), workers: r.diagnostics.workers, folded: r.view.inbound.folded };
    };
    const one = await run(1);
    assert.equal(one.folded, 0, 'the view folds nothing');
    for (const threads of [2, 3]) {
      const ranges = await run(threads);
      assert.equal(ranges.batch, one.batch, `${threads} threads`);
      assert.equal(ranges.workers, 0, `${threads} threads: the ranges were not merged`);
    }
  });

  it('reads on from the seam when the log names more services than a view keeps apart', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const stamp = `Nov 20 ${String(Math.floor(i / 120)).padStart(2, '0')}:${String(Math.floor(i / 2) % 60).padStart(2, '0')}:00`;
      const program = i % 20 === 0 ? `postfix/svc${i}/smtpd[${100 + (i % 7)}]` : `postfix/smtpd[${100 + (i % 7)}]`;
      lines.push(`${stamp} mx1 ${program}: connect from h${i}.example[10.2.${i >> 8}.${i & 255}]`);
      lines.push(
        `${stamp} mx1 ${program}: disconnect from h${i}.example[10.2.${i >> 8}.${i & 255}] ehlo=1 quit=1 commands=2`,
      );
    }
    const file = path.join(dir, 'services.log');
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    await sameAsOnePass([file], (v) => v.servicesFolded);
  });

  async function sameAsOnePass(
    files: string[],
    folds: (v: CensusView) => boolean = (v) => v.inbound.folded > 0,
  ): Promise<void> {
    const run = async (threads: number) => {
      const r = await census(resolveInputs(files), {
        timezone: 'UTC',
        threads,
        parallel: { rangeMinBytes: 0, warmupMs: 60 * 60 * 1000 },
      });
      return { json: JSON.stringify(buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs: null })), r };
    };
    const one = await run(1);
    assert.ok(folds(one.r.view), 'the log folds names');
    for (const threads of [2, 3]) {
      const ranges = await run(threads);
      assert.equal(ranges.json, one.json, `${files}: ${threads} threads`);
      assert.equal(ranges.r.diagnostics.workers, 0, `${files}: the ranges were not merged`);
    }
  }
});
