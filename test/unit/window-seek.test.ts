// A census with --since skips the lines proved dated long before the window (census/window-seek.ts). It must count
// exactly what reading every line counts: the same sessions, peers, spread and timeline, the same samples of the
// lines it read under the same line numbers; only the coverage (lines read) and the sources (what was skipped)
// tell the two apart. Checked on genlog's days-long log at several window starts, as a rotation set, on two
// threads, and with a line dated in the window placed early (a clock stepped back), where skipping must stop.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { type CensusOptions, census } from '../../src/census/census.js';
import { seekWindow, seekWindowEnd, tailStillProved } from '../../src/census/window-seek.js';
import { DIALECTS } from '../../src/dialects/registry.js';
import { buildReport, type ReportData } from '../../src/render/report-model.js';
import { renderTable } from '../../src/render/table.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { ROOT } from '../helpers/paths.js';

let dir = '';
/** Genlog's lines, five days and a half at a low rate, with a malformed line after every 2,000th. */
let lines: string[] = [];

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-seek-'));
  const gen = spawnSync(
    process.execPath,
    [path.join(ROOT, 'bench', 'genlog.mjs'), '--lines', '30000', '--seed', 'seek', '--rate', '0.004', '--hosts', '2'],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  assert.equal(gen.status, 0, gen.stderr);
  lines = gen.stdout
    .split('\n')
    .slice(0, -1)
    .flatMap((l, i) =>
      i % 2000 === 1000
        ? [l, `${l.slice(0, 15)} mx1 postfix/smtpd[1]: Anonymous TLS connection established from ?`]
        : [l],
    );
});

function write(name: string, content: string[]): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, `${content.join('\n')}\n`);
  // RFC 3164 stamps take their year from the file's time: the last line's (genlog starts 2026-11-20).
  fs.utimesSync(p, new Date('2026-12-01T00:00:00Z'), new Date('2026-12-01T00:00:00Z'));
  return p;
}

/** Lines of mail programs, read or skipped, by the last `report` (diagnostics, not in the report). */
let lastClaimed = 0;

async function report(files: string[], sinceMs: number, options: CensusOptions = {}): Promise<ReportData> {
  const r = await census(resolveInputs(files), {
    timezone: 'UTC',
    maxSamples: 1000,
    filter: { sinceMs },
    ...options,
  });
  lastClaimed = r.diagnostics.claimedLines;
  return buildReport(r.view, r.diagnostics, { sinceMs, untilMs: null });
}

/** What one pass reports about the window: everything but what tells a skip apart (lines read, sources). */
function counted(r: ReportData): string {
  const { coverage: _c, sources: _s, malformedSamples: _m, ...rest } = r;
  return JSON.stringify(rest, null, 1);
}

function skippedLines(r: ReportData): number {
  return r.sources.reduce((n, s) => n + (s.skipped?.lines ?? 0), 0);
}

/** The seek's report equals one pass's, and says what it skipped; returns the lines it skipped. */
async function assertExact(files: string[], sinceMs: number, options: CensusOptions = {}): Promise<number> {
  const all = await report(files, sinceMs, { ...options, parallel: { ...options.parallel, seek: false } });
  const claimed = lastClaimed;
  const seek = await report(files, sinceMs, options);
  assert.equal(counted(seek), counted(all));
  assert.equal(lastClaimed, claimed, 'lines of mail programs, read or skipped');
  const skipped = skippedLines(seek);
  assert.equal(seek.coverage.lines + skipped, all.coverage.lines, 'every line read or skipped');
  assert.equal(seek.coverage.skipped, skipped > 0 ? skipped : undefined, 'the coverage says how many were skipped');
  // The samples of the lines read, under one pass's line numbers.
  const read = (s: { source: string; line: number }) =>
    seek.sources.some((x) => x.path === s.source && x.bytes > 0 && s.line > (x.skipped?.lines ?? 0));
  assert.deepEqual(seek.malformedSamples, all.malformedSamples.filter(read));
  assert.ok(seek.malformedSamples.length > 0, 'samples after the skip are compared');
  return skipped;
}

const day = (d: number, h = 0, m = 0) => Date.UTC(2026, 10, 20 + d, h, m);

/**
 * A seek on two threads skips what one thread skips; `split`: whether a worker's proof was used (null: nothing is
 * skipped at all).
 */
function assertSameOnTwoThreads<T extends { workers: number }>(
  name: string,
  one: T | null,
  two: T | null,
  split: boolean | null,
): void {
  if (split === null) {
    assert.equal(two, one, `${name}: nothing skipped`);
    return;
  }
  assert.ok(one !== null && two !== null, name);
  assert.equal(one.workers, 0, name);
  assert.equal(two.workers, split ? 1 : 0, `${name}: proved on two threads`);
  assert.deepEqual({ ...two, workers: 0 }, one, name);
}

/**
 * Window starts one second after the connect of a session whose TLS and disconnect lines come later: a read that
 * began at the window's start would count that session as one of the window's (so would a warm-up too short).
 */
function straddling(count: number): number[] {
  const out: number[] = [];
  for (let k = 1; k <= count; k++) {
    const from = Math.floor((lines.length * k) / (count + 1));
    for (let i = from; i < lines.length; i++) {
      const m = /^Nov (\d\d) (\d\d):(\d\d):(\d\d) \S+ postfix\/smtpd\[(\d+)\]: connect from /.exec(lines[i]!);
      if (m === null) continue;
      const later = lines.slice(i + 1, i + 40).find((l) => l.includes(`smtpd[${m[5]}]: disconnect from`));
      if (later === undefined || later.slice(0, 15) === lines[i]!.slice(0, 15)) continue;
      out.push(Date.UTC(2026, 10, Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])) + 1000);
      break;
    }
  }
  return out;
}

describe('window seek (report --since over a long log)', () => {
  it('skips the head of a file and counts what one pass counts, at any window start', async () => {
    const file = write('maillog', lines);
    for (const since of [day(0, 2), day(1, 6), day(2, 13, 37), day(4, 23, 59), ...straddling(4)]) {
      const skipped = await assertExact([file], since);
      assert.ok(skipped > 0 || since === day(0, 2), `lines skipped before ${new Date(since).toISOString()}`);
    }
    // A window after the log: every line skipped, nothing counted, and the report says so.
    const after = await report([file], day(30));
    assert.equal(after.coverage.lines, 0);
    assert.equal(skippedLines(after), lines.length);
    assert.equal(after.inbound.totals.sessions, 0);
    assert.match(renderTable(after, { color: false, top: 10 }), /[\d,]+ lines dated outside the window skipped/);
  });

  it('skips whole files of a rotation set', async () => {
    const third = Math.floor(lines.length / 3);
    const files = [
      write('mail.log.2', lines.slice(0, third)),
      write('mail.log.1', lines.slice(third, 2 * third)),
      write('mail.log', lines.slice(2 * third)),
    ];
    await assertExact(files, day(4, 12));
    const seek = await report(files, day(4, 12));
    assert.deepEqual(
      seek.sources.map((s) => [path.basename(s.path), s.bytes === 0, s.skipped !== undefined]),
      [
        ['mail.log.2', true, true],
        ['mail.log.1', true, true],
        ['mail.log', false, true],
      ],
    );
  });

  it('skips whole .gz files proved early, never one the window reaches or a time says it may', async () => {
    const third = Math.floor(lines.length / 3);
    const gz = (name: string, content: string[], mtime: string) => {
      const p = path.join(dir, name);
      fs.writeFileSync(p, zlib.gzipSync(`${content.join('\n')}\n`));
      fs.utimesSync(p, new Date(mtime), new Date(mtime));
      return p;
    };
    // A rotated file's time is its last write: these are written as logrotate leaves them.
    const lastTime = (content: string[]) =>
      `2026-${content.at(-1)!.slice(0, 15).replace('Nov', '11-')}Z`.replace(/-\s*(\d+) /, '-$1T');
    const files = [
      gz('rot.log.2.gz', lines.slice(0, third), lastTime(lines.slice(0, third))),
      gz('rot.log.1.gz', lines.slice(third, 2 * third), lastTime(lines.slice(third, 2 * third))),
      write('rot.log', lines.slice(2 * third)),
    ];
    await assertExact(files, day(4, 12));
    const seek = await report(files, day(4, 12));
    assert.deepEqual(
      seek.sources.map((s) => [path.basename(s.path), s.bytes === 0, s.skipped?.lines]),
      [
        ['rot.log.2.gz', true, third],
        ['rot.log.1.gz', true, third],
        ['rot.log', false, seek.sources[2]!.skipped?.lines],
      ],
    );
    assert.ok((seek.sources[2]!.skipped?.lines ?? 0) > 0);
    // A window starting in the second .gz: it is read whole (a .gz cannot be entered midway); the first is skipped.
    const midway = Date.parse(lastTime(lines.slice(0, third + third / 2)));
    await assertExact(files, midway);
    assert.deepEqual(
      (await report(files, midway)).sources.map((s) => [path.basename(s.path), s.skipped !== undefined]),
      [
        ['rot.log.2.gz', true],
        ['rot.log.1.gz', false],
        ['rot.log', false],
      ],
    );
    // A .gz whose time says it may reach the window is not even tried; one with an in-window line is not skipped.
    fs.utimesSync(files[0]!, new Date('2026-12-01T00:00:00Z'), new Date('2026-12-01T00:00:00Z'));
    assert.equal(skippedLines(await report(files, day(4, 12))), 0);
    const late = lines.find((l) => l.startsWith('Nov 25 '))!;
    const stepped = gz(
      'step.log.1.gz',
      [...lines.slice(0, 100), late, ...lines.slice(100, third)],
      '2026-11-22T00:00:00Z',
    );
    const set = [stepped, write('step.log', lines.slice(third))];
    await assertExact(set, day(4, 12));
    assert.equal((await report(set, day(4, 12))).sources[0]!.skipped, undefined);
  });

  it('counts in byte ranges on two threads from where it starts reading', async () => {
    const file = write('ranges.log', lines);
    const one = await report([file], day(1, 6));
    const two = await report([file], day(1, 6), { threads: 2, parallel: { rangeMinBytes: 0 } });
    assert.equal(JSON.stringify(two), JSON.stringify(one));
    await assertExact([file], day(1, 6), { threads: 2, parallel: { rangeMinBytes: 0 } });
  });

  it('stops skipping at a line dated in the window, wherever it is (a clock stepped back)', async () => {
    // A session of the window's second day written into the log's first hours: one pass counts it.
    const late = lines.filter((l) => l.startsWith('Nov 23 1') && l.includes('postfix/smtpd'));
    const early = [...lines.slice(0, 200), ...late.slice(0, 50), ...lines.slice(200)];
    const file = write('stepped.log', early);
    const skipped = await assertExact([file], day(3, 6));
    assert.ok(skipped <= 200, `skipping stopped at the early line (${skipped} skipped)`);
  });

  it('stops at a line of a dialect that keeps state across lines (Exim, Sendmail: per process id, for ever)', async () => {
    // Found in review: Exim's `<=` lines leave pids 5000 and 6000 marked as having had mail; a day later their
    // reuse made one pass count 3 inbound sessions and a skip 1. Sendmail's failed STARTTLS on pid 4321 made the
    // next delivery of that pid a fallback.
    const postfixEarly = lines.filter((l) => l.startsWith('Nov 20 0')).slice(0, 300);
    const exim = [
      ...postfixEarly,
      'Nov 20 08:00:00 mx exim[5000]: 2026-11-20 08:00:00 [5000] 1vAbCd-000ABC-AB <= a@b.example H=mail.b.example [192.0.2.1] P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S=1234',
      'Nov 20 08:05:00 mx exim[6000]: 2026-11-20 08:05:00 [6000] 1vAbCe-000ABC-AB <= c@d.example H=mail.d.example [192.0.2.2] P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S=1234',
      'Nov 21 12:30:00 mx exim[5000]: 2026-11-21 12:30:00 [5000] unexpected disconnection while reading SMTP command from [198.51.100.7] D=0s',
      'Nov 21 12:31:00 mx exim[6000]: 2026-11-21 12:31:00 [6000] H=(spambox) [198.51.100.8] F=<spam@x.example> rejected RCPT <u@me.example>: relay not permitted',
      'Nov 21 12:40:00 mx exim[7000]: 2026-11-21 12:40:00 [7000] 1vAbCf-000ABC-AB <= e@f.example H=mail.f.example [192.0.2.3] P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S=1234',
    ];
    const sendmail = [
      ...postfixEarly,
      'Nov 20 08:00:00 mx sm-mta[4321]: STARTTLS=client, error: connect failed=-1, reason=certificate verify failed, SSL_error=1, errno=0, retry=-1',
      'Nov 21 12:30:00 mx sm-mta[4321]: 5ALCU0aa004321: to=<u@peer.example>, ctladdr=<s@me.example> (1000/1000), delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=120000, relay=mx.peer.example. [203.0.113.5], dsn=2.0.0, stat=Sent (ok)',
    ];
    for (const [name, content] of [
      ['exim.log', exim],
      ['sendmail.log', sendmail],
    ] as const) {
      const file = write(name, content);
      const since = Date.UTC(2026, 10, 21, 12);
      const all = await report([file], since, { parallel: { seek: false } });
      const seek = await report([file], since);
      assert.equal(counted(seek), counted(all), name);
      assert.equal(skippedLines(seek), postfixEarly.length, `${name}: skipping stopped at the first stateful line`);
      assert.ok(all.inbound.totals.sessions + all.outbound.totals.sessions > 0);
    }
  });

  it('reads everything when a session that may lack skipped lines decides what comes next', async () => {
    // Found in review: smtpd[100]'s session began (connect, handshake) in the lines skipped and stayed alive on its
    // messages; a handshake without a connect (a line lost) then closes it and starts the window's session in a
    // full read, but joined the partial session, which had no handshake, in the skipping one.
    const file = write('partial.log', [
      'Nov 20 05:00:00 mx postfix/smtpd[100]: connect from a.example[192.0.2.1]',
      'Nov 20 05:00:01 mx postfix/smtpd[100]: Anonymous TLS connection established from a.example[192.0.2.1]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)',
      'Nov 20 05:50:00 mx postfix/smtpd[100]: AAAAA11111: client=a.example[192.0.2.1]',
      'Nov 20 06:40:00 mx postfix/smtpd[100]: AAAAA22222: client=a.example[192.0.2.1]',
      'Nov 20 07:30:00 mx postfix/smtpd[100]: AAAAA33333: client=a.example[192.0.2.1]',
      'Nov 20 08:20:00 mx postfix/smtpd[100]: AAAAA44444: client=a.example[192.0.2.1]',
      'Nov 20 09:10:00 mx postfix/smtpd[100]: Anonymous TLS connection established from b.example[192.0.2.2]: TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)',
      'Nov 20 09:10:05 mx postfix/smtpd[100]: disconnect from b.example[192.0.2.2] ehlo=2 starttls=1 quit=1 commands=4',
    ]);
    const since = Date.UTC(2026, 10, 20, 9);
    const all = await report([file], since, { parallel: { seek: false } });
    const seek = await report([file], since);
    assert.equal(counted(seek), counted(all));
    assert.equal(seek.inbound.totals.tls, 1);
    assert.equal(skippedLines(seek), 0, 'the census read everything instead');
  });

  it('reads everything when skipping could change which sessions a sweep closes, or one is never swept', async () => {
    // Found in review. A clock stepped back over an hour after the skip point: the skipping read's latest time
    // began at 06:30, so it swept smtpd[100]'s session at 07:36 where a full read (its latest time 08:59:59) did
    // not, and the 12:01 handshake then joined a session without one. And a line with no time (journald JSON
    // without __REALTIME_TIMESTAMP) started a session never swept, which the 12:01 disconnect then closed.
    const cases: [string, string[]][] = [
      [
        'stepped-back.log',
        [
          'Nov 20 08:00:00 mx postfix/smtpd[1]: connect from a.example[192.0.2.1]',
          'Nov 20 08:59:59 mx postfix/smtpd[1]: disconnect from a.example[192.0.2.1] ehlo=1 quit=1 commands=2',
          'Nov 20 09:00:00 mx kernel: tick',
          'Nov 20 06:30:00 mx postfix/smtpd[100]: connect from b.example[192.0.2.2]',
          'Nov 20 06:30:01 mx postfix/smtpd[100]: Anonymous TLS connection established from b.example[192.0.2.2]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)',
          'Nov 20 07:36:00 mx postfix/smtpd[200]: connect from c.example[192.0.2.3]',
          'Nov 20 07:40:00 mx postfix/smtpd[100]: QID01: client=b.example[192.0.2.2]',
          'Nov 20 08:10:00 mx postfix/smtpd[100]: QID02: client=b.example[192.0.2.2]',
          'Nov 20 08:40:00 mx postfix/smtpd[100]: QID03: client=b.example[192.0.2.2]',
          'Nov 20 09:10:00 mx postfix/smtpd[100]: QID04: client=b.example[192.0.2.2]',
          'Nov 20 09:40:00 mx postfix/smtpd[100]: QID05: client=b.example[192.0.2.2]',
          'Nov 20 10:10:00 mx postfix/smtpd[100]: QID06: client=b.example[192.0.2.2]',
          'Nov 20 10:40:00 mx postfix/smtpd[100]: QID07: client=b.example[192.0.2.2]',
          'Nov 20 11:10:00 mx postfix/smtpd[100]: QID08: client=b.example[192.0.2.2]',
          'Nov 20 11:40:00 mx postfix/smtpd[100]: QID09: client=b.example[192.0.2.2]',
          'Nov 20 12:01:00 mx postfix/smtpd[100]: Anonymous TLS connection established from b.example[192.0.2.2]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)',
          'Nov 20 12:02:00 mx postfix/smtpd[100]: disconnect from b.example[192.0.2.2] ehlo=2 starttls=1 quit=1 commands=4',
        ],
      ],
      [
        'no-time.log',
        [
          'Nov 20 08:50:00 mx postfix/smtpd[100]: connect from b.example[192.0.2.2]',
          'Nov 20 08:50:01 mx postfix/smtpd[100]: Anonymous TLS connection established from b.example[192.0.2.2]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)',
          '{"SYSLOG_IDENTIFIER":"postfix/smtpd","SYSLOG_PID":"100","_HOSTNAME":"mx","MESSAGE":"QIDAA1: client=b.example[192.0.2.2]"}',
          'Nov 20 09:30:00 mx postfix/smtpd[7]: connect from c.example[192.0.2.3]',
          'Nov 20 10:30:00 mx postfix/smtpd[7]: connect from c.example[192.0.2.3]',
          'Nov 20 11:30:00 mx postfix/smtpd[7]: connect from c.example[192.0.2.3]',
          'Nov 20 12:01:00 mx postfix/smtpd[100]: disconnect from b.example[192.0.2.2] ehlo=1 quit=1 commands=2',
        ],
      ],
    ];
    const since = Date.UTC(2026, 10, 20, 12);
    for (const [name, content] of cases) {
      const file = write(name, content);
      const all = await report([file], since, { parallel: { seek: false } });
      const seek = await report([file], since);
      assert.equal(counted(seek), counted(all), name);
      assert.equal(all.inbound.totals.sessions, 1, name);
      assert.equal(skippedLines(seek), 0, `${name}: the census read everything instead`);
    }
  });

  it('leaves "nothing recognised" to be decided as one pass decides it', async () => {
    const since = Date.UTC(2026, 10, 21, 12);
    const kernel = (i: number) =>
      `Nov 20 09:${String(i % 60).padStart(2, '0')}:00 mx kernel: [${i}.000000] usb 1-1: new device`;
    const cron = (i: number) => `Nov 2${i < 100 ? 0 : 2} 1${i % 10}:00:00 mx CRON[${i}]: (root) CMD (true)`;
    const session = lines.filter((l) => l.startsWith('Nov 21 1') || l.startsWith('Nov 22 ')).slice(0, 400);
    const cases: [string, string[]][] = [
      // One pass gives up at line 50,000 (no mail program among them): so must the census that could skip them.
      ['syslog-kernel.log', [...Array.from({ length: 60_000 }, (_, i) => kernel(i)), ...session]],
      // Only CRON: one pass says "nothing recognised"; skipping every line must not turn that into an empty report.
      ['cron.log', Array.from({ length: 200 }, (_, i) => cron(i))],
      // Mail lines early, none in the window: one pass counts nothing without an error, and so must the skip.
      ['quiet.log', [...lines.slice(0, 50), ...Array.from({ length: 200 }, (_, i) => cron(i + 100))]],
    ];
    for (const [name, content] of cases) {
      const file = write(name, content);
      const outcome = (o: CensusOptions) =>
        report([file], since, o).then(
          (r) => counted(r),
          (e: Error) => `error: ${e.message}`,
        );
      assert.equal(await outcome({}), await outcome({ parallel: { seek: false } }), name);
    }
  });

  it('reads a pipe as it is, and a file that grew after it was named', async () => {
    const since = day(3, 6);
    const file = write('piped.log', lines);
    const fifo = path.join(dir, 'fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const writer = spawn('sh', ['-c', `cat '${file}' > '${fifo}'`]);
    const written = new Promise((resolve) => writer.on('close', resolve));
    const piped = await report([fifo], since);
    await written;
    assert.equal(counted(piped), counted(await report([file], since, { parallel: { seek: false } })));
    // Named (and sized), then grown: a file not last in the list is read to its end as it is then, as one pass does.
    const grown = path.join(dir, 'grown.log');
    fs.writeFileSync(grown, `${lines.slice(0, 1000).join('\n')}\n`);
    const inputs = resolveInputs([grown, write('after.log', lines.slice(-10))]);
    fs.appendFileSync(grown, `${lines.slice(1000).join('\n')}\n`);
    fs.utimesSync(grown, new Date('2026-12-01T00:00:00Z'), new Date('2026-12-01T00:00:00Z'));
    const counts = async (seek: boolean) => {
      const r = await census(inputs, { timezone: 'UTC', filter: { sinceMs: since }, parallel: { seek } });
      return counted(buildReport(r.view, r.diagnostics, { sinceMs: since, untilMs: null }));
    };
    assert.equal(await counts(true), await counts(false));
  });

  it('proves a long head on two threads as one thread proves it, wherever the first line not early is', async () => {
    const since = day(4, 12);
    const inWindow = lines.filter((l) => l.startsWith('Nov 25 1') && l.includes('postfix/smtpd')).slice(0, 5);
    const exim =
      'Nov 21 08:00:00 mx exim[5000]: 2026-11-21 08:00:00 [5000] 1vAbCd-000ABC-AB <= a@b.example H=mail.b.example [192.0.2.1] P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S=1234';
    // (400 bytes each: the first mail line comes after half of the head, in the worker's half.)
    const sshd = (i: number) =>
      `Nov 20 00:00:00 mx sshd[${i}]: Invalid user ${'x'.repeat(340)} from 198.51.100.${i % 250} port 22`;
    const at = (fraction: number) => Math.floor(lines.length * fraction);
    const insert = (fraction: number, extra: string[]) => [
      ...lines.slice(0, at(fraction)),
      ...extra,
      ...lines.slice(at(fraction)),
    ];
    const cases: [string, string[]][] = [
      ['plain', lines],
      // The first line not early in the second half of the head (the worker's), in the first (this thread's), as
      // the head's very first line, and a stateful dialect's line in the worker's half.
      ['late-in-worker-half', insert(0.6, inWindow)],
      ['late-in-main-half', insert(0.1, inWindow)],
      ['late-first', [...inWindow, ...lines]],
      ['stateful-in-worker-half', insert(0.55, [exim])],
      // No mail line in this thread's half: the first one is counted from the worker's (one pass's give-up rule).
      ['foreign-head', [...Array.from({ length: 20_000 }, (_, i) => sshd(i)), ...lines]],
      // Every line early: the whole file, to its end.
      ['all-early', lines.filter((l) => l < 'Nov 24')],
    ];
    const seekIn = (file: string, threads: number, giveUpAfterLines = 50_000) =>
      seekWindow(resolveInputs([file]), {
        sinceMs: since,
        timezone: 'UTC',
        dialects: DIALECTS,
        giveUpAfterLines,
        threads,
        splitMinBytes: 0,
      });
    for (const [name, content] of cases) {
      const file = write(`split-${name}.log`, content);
      const seek = (threads: number) => seekIn(file, threads);
      const split = name !== 'late-in-main-half' && name !== 'late-first';
      assertSameOnTwoThreads(name, await seek(1), await seek(2), name === 'late-first' ? null : split);
    }
    // The first mail line is the 20,001st, in the worker's half: one pass gives up after 20,000 lines, not 20,001.
    const foreign = path.join(dir, 'split-foreign-head.log');
    assert.equal(await seekIn(foreign, 2, 20_000), null);
    assert.equal((await seekIn(foreign, 2, 20_001))?.workers, 1);
    // And the census on two threads counts what one pass counts.
    await assertExact([write('split-census.log', insert(0.6, inWindow))], since, {
      threads: 2,
      parallel: { rangeMinBytes: 0 },
    });
  });

  it('does not skip when the lines before the window matter (--year, --history) or when told not to', async () => {
    const file = write('noskip.log', lines);
    for (const options of [{ year: 2026 }, { parallel: { seek: false } }] as CensusOptions[]) {
      assert.equal(skippedLines(await report([file], day(3), options)), 0);
    }
  });
});

/** The report of a window with an end (`untilMs`), and maybe a start. */
async function reportUntil(
  files: string[],
  window: { sinceMs?: number; untilMs: number },
  options: CensusOptions = {},
): Promise<ReportData> {
  const sinceMs = window.sinceMs ?? null;
  const r = await census(resolveInputs(files), {
    timezone: 'UTC',
    maxSamples: 1000,
    filter: { sinceMs, untilMs: window.untilMs },
    ...options,
  });
  lastClaimed = r.diagnostics.claimedLines;
  return buildReport(r.view, r.diagnostics, { sinceMs, untilMs: window.untilMs });
}

function skippedAfter(r: ReportData): number {
  return r.sources.reduce((n, s) => n + (s.skippedAfter?.lines ?? 0), 0);
}

/** The report equals one pass's and says what it skipped at the end; returns the lines skipped there. */
async function assertExactUntil(
  files: string[],
  window: { sinceMs?: number; untilMs: number },
  options: CensusOptions = {},
): Promise<number> {
  const all = await reportUntil(files, window, { ...options, parallel: { ...options.parallel, seek: false } });
  const claimed = lastClaimed;
  const cut = await reportUntil(files, window, options);
  const at = `until ${new Date(window.untilMs).toISOString()}`;
  assert.equal(counted(cut), counted(all), at);
  assert.equal(lastClaimed, claimed, `${at}: lines of mail programs, read or skipped`);
  const skipped = skippedLines(cut) + skippedAfter(cut);
  assert.equal(cut.coverage.lines + skipped, all.coverage.lines, `${at}: every line read or skipped`);
  assert.equal(cut.coverage.skipped, skipped > 0 ? skipped : undefined, `${at}: the coverage says so`);
  if (files.length === 1) {
    // The samples of the lines read, under one pass's line numbers.
    const first = skippedLines(cut);
    const read = (s: { line: number }) => s.line > first && s.line <= first + cut.coverage.lines;
    assert.deepEqual(cut.malformedSamples, all.malformedSamples.filter(read), at);
  }
  return skippedAfter(cut);
}

describe('window seek at the end (report --until over a long log)', () => {
  it('skips the end of a file and counts what one pass counts, at any window end', async () => {
    const file = write('until.log', lines);
    for (const untilMs of [day(0, 6), day(1, 12), day(2, 13, 37), day(4, 12), ...straddling(4)]) {
      const skipped = await assertExactUntil([file], { untilMs });
      assert.ok(skipped > 0, `lines skipped after ${new Date(untilMs).toISOString()}`);
      // With a start too: both ends skipped.
      const both = await assertExactUntil([file], { sinceMs: untilMs - 86_400_000, untilMs });
      assert.ok(both > 0);
    }
    const table = renderTable(await reportUntil([file], { untilMs: day(2) }), { color: false, top: 10 });
    assert.match(table, /[\d,]+ lines dated outside the window skipped/);
    // A window before the log: nothing of a mail program would be read, and one pass might then give up on
    // "nothing recognised" (below): it is read as one pass reads it.
    const before = await reportUntil([file], { untilMs: day(-3) });
    assert.equal(before.coverage.lines, lines.length);
    assert.equal(before.inbound.totals.sessions, 0);
  });

  it('skips whole files and .gz after the window, and counts on two threads up to where it stops', async () => {
    const third = Math.floor(lines.length / 3);
    const gz = (name: string, content: string[], mtime: string) => {
      const p = path.join(dir, name);
      fs.writeFileSync(p, zlib.gzipSync(`${content.join('\n')}\n`));
      fs.utimesSync(p, new Date(mtime), new Date(mtime));
      return p;
    };
    const files = [
      gz('end.log.2.gz', lines.slice(0, third), '2026-11-22T00:00:00Z'),
      gz('end.log.1.gz', lines.slice(third, 2 * third), '2026-11-24T00:00:00Z'),
      write('end.log', lines.slice(2 * third)),
    ];
    const untilMs = day(0, 12);
    await assertExactUntil(files, { untilMs });
    const cut = await reportUntil(files, { untilMs });
    assert.deepEqual(
      cut.sources.map((s) => [path.basename(s.path), s.bytes === 0, s.skippedAfter !== undefined]),
      [
        ['end.log.2.gz', false, false],
        ['end.log.1.gz', true, true],
        ['end.log', true, true],
      ],
    );
    // The window ends in the plain file: its end is skipped, and the file is counted in ranges on two threads.
    const file = write('end-ranges.log', lines);
    const options: CensusOptions = { threads: 2, parallel: { rangeMinBytes: 0 } };
    assert.ok((await assertExactUntil([file], { untilMs: day(3, 6) }, options)) > 0);
    assert.ok((await assertExactUntil([file], { sinceMs: day(1, 6), untilMs: day(3, 6) }, options)) > 0);
    const split = await reportUntil([file], { untilMs: day(3, 6) }, options);
    assert.equal(JSON.stringify(split), JSON.stringify(await reportUntil([file], { untilMs: day(3, 6) })));
    // Through the chunk pipeline too (chunks of 4 KiB, worker threads from the start).
    const chunked: CensusOptions = { threads: 2, parallel: { chunkBytes: 4096, startAfterBytes: 0 } };
    assert.ok((await assertExactUntil([file], { untilMs: day(3, 6) }, chunked)) > 0);
  });

  it('reads on when a session it counts is still open where it would stop', async () => {
    // smtpd[100]'s session starts before the window's end and lives on its messages, one every 50 minutes (within
    // the idle TTL), past the point where reading would stop (three hours after the end): it must be read to its end.
    const messages = Array.from({ length: 8 }, (_, i) => {
      const t = new Date(Date.UTC(2026, 10, 20, 9, 30) + (i + 1) * 50 * 60_000);
      const hh = String(t.getUTCHours()).padStart(2, '0');
      const mm = String(t.getUTCMinutes()).padStart(2, '0');
      return `Nov 20 ${hh}:${mm}:00 mx postfix/smtpd[100]: QID${i}A: client=a.example[192.0.2.1]`;
    });
    const file = write('open.log', [
      'Nov 20 09:30:00 mx postfix/smtpd[100]: connect from a.example[192.0.2.1]',
      'Nov 20 09:30:01 mx postfix/smtpd[100]: Anonymous TLS connection established from a.example[192.0.2.1]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)',
      ...messages,
      'Nov 20 16:30:05 mx postfix/smtpd[100]: disconnect from a.example[192.0.2.1] ehlo=2 starttls=1 mail=8 quit=1 commands=12',
      'Nov 20 17:00:00 mx postfix/smtpd[7]: connect from c.example[192.0.2.3]',
      'Nov 20 17:00:01 mx postfix/smtpd[7]: disconnect from c.example[192.0.2.3] ehlo=1 quit=1 commands=2',
    ]);
    const window = { untilMs: Date.UTC(2026, 10, 20, 10) };
    assert.equal(await assertExactUntil([file], window), 0, 'the census read everything instead');
    const all = await reportUntil([file], window);
    assert.equal(all.inbound.totals.messages, 8);
    assert.equal(all.inbound.totals.incomplete, 0);
  });

  it('stops skipping at a line dated in the window, or of a dialect that keeps state across lines', async () => {
    // A session of the window's first day written among the last day's lines (a clock stepped back): one pass
    // counts it, so only the lines after it are skipped.
    const early = [
      'Nov 20 05:00:00 mx postfix/smtpd[9999]: connect from z.example[192.0.2.99]',
      'Nov 20 05:00:01 mx postfix/smtpd[9999]: Anonymous TLS connection established from z.example[192.0.2.99]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)',
      'Nov 20 05:00:02 mx postfix/smtpd[9999]: disconnect from z.example[192.0.2.99] ehlo=2 starttls=1 quit=1 commands=4',
    ];
    const stepped = [...lines.slice(0, -200), ...early, ...lines.slice(-200)];
    const window = { untilMs: day(1) };
    assert.equal(await assertExactUntil([write('stepped-end.log', stepped)], window), 200);
    const peers = (await reportUntil([write('stepped-end.log', stepped)], window)).inbound.spread;
    assert.ok(peers.length > 0);
    const exim =
      'Nov 25 12:30:00 mx exim[5000]: 2026-11-25 12:30:00 [5000] 1vAbCd-000ABC-AB <= a@b.example H=mail.b.example [192.0.2.1] P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S=1234';
    const withExim = [...lines.slice(0, -100), exim, ...lines.slice(-100)];
    assert.equal(await assertExactUntil([write('exim-end.log', withExim)], window), 100);
  });

  it('leaves "nothing recognised" to be decided as one pass decides it', async () => {
    const kernel = (i: number) =>
      `Nov 20 09:${String(i % 60).padStart(2, '0')}:00 mx kernel: [${i}.000000] usb 1-1: new device`;
    const mail = lines.filter((l) => l.startsWith('Nov 22 ')).slice(0, 400);
    const untilMs = Date.UTC(2026, 10, 20, 12);
    for (const [name, content] of [
      // One pass gives up at line 50,000 (no mail program among them).
      ['end-kernel.log', [...Array.from({ length: 60_000 }, (_, i) => kernel(i)), ...mail]],
      // Mail lines only after the window: one pass reports nothing without an error, and so must the skip.
      ['end-quiet.log', [...Array.from({ length: 200 }, (_, i) => kernel(i)), ...mail]],
    ] as const) {
      const file = write(name, [...content]);
      const outcome = (o: CensusOptions) =>
        reportUntil([file], { untilMs }, o).then(
          (r) => counted(r),
          (e: Error) => `error: ${e.message}`,
        );
      assert.equal(await outcome({}), await outcome({ parallel: { seek: false } }), name);
    }
  });

  it('reads on when a session of the window may still be counted differently (review)', async () => {
    // The peer is `unknown` until the late disconnect names it: `--exclude-unknown` leaves the session out where
    // reading would stop, and one pass counts it.
    const file = write('named-late.log', [
      'Nov 20 10:00:00 mx postfix/smtpd[1]: connect from unknown[192.0.2.9]',
      'Nov 20 10:50:00 mx postfix/smtpd[1]: Q1AAAA: client=unknown[192.0.2.9]',
      'Nov 20 11:40:00 mx postfix/smtpd[1]: Q2AAAA: client=unknown[192.0.2.9]',
      'Nov 20 12:30:00 mx postfix/smtpd[1]: Q3AAAA: client=unknown[192.0.2.9]',
      'Nov 20 13:20:00 mx postfix/smtpd[1]: Q4AAAA: client=unknown[192.0.2.9]',
      'Nov 20 13:35:00 mx postfix/smtpd[1]: disconnect from mail.example[192.0.2.9] ehlo=1 mail=1 commands=2',
    ]);
    const window = { untilMs: Date.UTC(2026, 10, 20, 10, 30) };
    const filter = { untilMs: window.untilMs, excludeUnknown: true };
    const counts = async (seek: boolean) => {
      const r = await census(resolveInputs([file]), { timezone: 'UTC', filter, parallel: { seek } });
      return counted(buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs: window.untilMs }));
    };
    assert.equal(await counts(true), await counts(false));
    assert.match(await counts(true), /mail\.example/);
  });

  it('passes over an empty newest file, and skips nothing when an input cannot be read twice (review)', async () => {
    const file = write('before-empty.log', lines);
    const empty = path.join(dir, 'empty.log');
    fs.writeFileSync(empty, '');
    const skipped = await assertExactUntil([file, empty], { untilMs: day(1) });
    assert.ok(skipped > 0, 'an empty file after the window does not stop the skip');
    const sources = (await reportUntil([file, empty], { untilMs: day(1) })).sources;
    assert.deepEqual(sources[1], { path: empty, bytes: 0, issue: null });
    // Written to after it was passed over: proved again, as the end of a grown file is.
    const inputs = resolveInputs([file, empty]).map((input) => ({ ...input, fd: fs.openSync(input.path, 'r') }));
    try {
      const options = { untilMs: day(1), timezone: 'UTC', dialects: DIALECTS };
      const late = await seekWindowEnd(inputs, options);
      fs.appendFileSync(empty, `${lines.at(-1)}\n`);
      assert.equal(tailStillProved(late!, 'UTC', DIALECTS), true);
      assert.equal(late!.skipped.at(-1)!.lines, 1);
      const early = await seekWindowEnd(inputs, options);
      fs.appendFileSync(empty, `${lines[0]}\n`);
      assert.equal(tailStillProved(early!, 'UTC', DIALECTS), false);
    } finally {
      for (const input of inputs) fs.closeSync(input.fd);
      fs.writeFileSync(empty, '');
    }
    // A pipe before a file whose lines are all late: a read that cannot stand would read the pipe again, empty.
    const first = write('pipe-first.log', [
      'Nov 20 10:00:00 mx postfix/smtpd[1]: connect from a.example[192.0.2.1]',
      'Nov 20 10:00:01 mx postfix/smtpd[1]: Anonymous TLS connection established from a.example[192.0.2.1]: TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)',
    ]);
    const second = write('pipe-second.log', [
      'Nov 20 14:00:00 mx postfix/smtpd[1]: disconnect from a.example[192.0.2.1] ehlo=1 starttls=1 commands=2',
    ]);
    const fifo = path.join(dir, 'fifo-first');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const viaPipe = async (seek: boolean) => {
      const writer = spawn('sh', ['-c', `cat '${first}' > '${fifo}'`]);
      const written = new Promise((resolve) => writer.on('close', resolve));
      const untilMs = Date.UTC(2026, 10, 20, 10, 30);
      // Read twice, the pipe would wait for a writer for ever: after a while, one that writes nothing comes.
      const unblock = setTimeout(() => {
        try {
          fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
        } catch {
          // no reader waiting
        }
      }, 5000);
      const r = await census(resolveInputs([fifo, second]), {
        timezone: 'UTC',
        filter: { untilMs },
        parallel: { seek },
      });
      clearTimeout(unblock);
      await written;
      return buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs });
    };
    const piped = await viaPipe(true);
    assert.equal(counted(piped), counted(await viaPipe(false)));
    assert.equal(piped.inbound.totals.tls, 1);
  });

  it('reports progress up to the whole of the inputs, skipped parts included', async () => {
    const file = write('progress-end.log', lines);
    const files = [write('progress-end.log.1', lines.slice(0, 5000)), file];
    // What the CLI's progress line adds up: the last count of each input object it was handed.
    const last = new Map<object, number>();
    await census(resolveInputs(files), {
      timezone: 'UTC',
      filter: { sinceMs: day(1, 6), untilMs: day(2, 6) },
      onProgress: (input, bytes) => last.set(input, bytes),
    });
    const total = files.reduce((n, f) => n + fs.statSync(f).size, 0);
    assert.equal(
      [...last.values()].reduce((a, b) => a + b, 0),
      total,
    );
  });

  it('proves again the end of a file that grew while it was counted', async () => {
    const file = path.join(dir, 'growing.log');
    const head = lines.filter((l) => l < 'Nov 24').slice(0, 2000);
    // The last line is still being written (no newline yet).
    const last = lines.find((l) => l.startsWith('Nov 25 '))!;
    fs.writeFileSync(file, `${head.join('\n')}\n${last.slice(0, 60)}`);
    fs.utimesSync(file, new Date('2026-12-01T00:00:00Z'), new Date('2026-12-01T00:00:00Z'));
    const inputs = resolveInputs([file]).map((input) => ({ ...input, fd: fs.openSync(file, 'r') }));
    try {
      const options = { untilMs: day(2), timezone: 'UTC', dialects: DIALECTS };
      const tail = await seekWindowEnd(inputs, options);
      assert.ok(tail !== null);
      const before = tail.skipped[0]!.lines;
      // Still growing, with later lines: proved, and counted.
      fs.appendFileSync(file, `${last.slice(60)}\n${lines.slice(-10).join('\n')}\n`);
      assert.equal(tailStillProved(tail, 'UTC', DIALECTS), true);
      assert.equal(tail.skipped[0]!.lines, before + 10);
      assert.equal(tail.skipped[0]!.bytes, fs.statSync(file).size - tail.inputs[0]!.endAt!);
      // A line dated in the window written since: not proved.
      const again = await seekWindowEnd(inputs, options);
      fs.appendFileSync(file, `${head[0]}\n`);
      assert.equal(tailStillProved(again!, 'UTC', DIALECTS), false);
    } finally {
      for (const input of inputs) fs.closeSync(input.fd);
    }
  });

  it('proves a long end on two threads as one thread proves it, wherever the last line not late is', async () => {
    const until = day(1, 12);
    // (Dated inside the window: in the end's later half, the worker's earlier half, or last of all.)
    const inWindow = lines.filter((l) => l.startsWith('Nov 21 1') && l.includes('postfix/smtpd')).slice(0, 5);
    const exim =
      'Nov 24 08:00:00 mx exim[5000]: 2026-11-24 08:00:00 [5000] 1vAbCd-000ABC-AB <= a@b.example H=mail.b.example [192.0.2.1] P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S=1234';
    const at = (fraction: number) => Math.floor(lines.length * fraction);
    const insert = (fraction: number, extra: string[]) => [
      ...lines.slice(0, at(fraction)),
      ...extra,
      ...lines.slice(at(fraction)),
    ];
    const cases: [string, string[], boolean][] = [
      ['plain', lines, true],
      ['in-window-in-worker-half', insert(0.5, inWindow), true],
      ['in-window-in-main-half', insert(0.9, inWindow), false],
      ['stateful-in-worker-half', insert(0.55, [exim]), true],
      ['in-window-last', [...lines, ...inWindow], false],
      ['all-late', lines.filter((l) => l >= 'Nov 22'), true],
    ];
    for (const [name, content, split] of cases) {
      const file = write(`tail-split-${name}.log`, content);
      const seek = async (threads: number) => {
        const tail = await seekWindowEnd(resolveInputs([file]), {
          untilMs: until,
          timezone: 'UTC',
          dialects: DIALECTS,
          threads,
          splitMinBytes: 0,
        });
        return tail === null ? null : { ...tail, inputs: tail.inputs.map((i) => [i.path, i.endAt]) };
      };
      assertSameOnTwoThreads(name, await seek(1), await seek(2), name === 'in-window-last' ? null : split);
    }
    // And the census on two threads counts what one pass counts.
    await assertExactUntil(
      [write('tail-split-census.log', insert(0.5, inWindow))],
      { untilMs: until },
      {
        threads: 2,
        parallel: { rangeMinBytes: 0 },
      },
    );
  });

  it('does not skip when the lines after the window matter (--year, --history) or when told not to', async () => {
    const file = write('noskip-end.log', lines);
    for (const options of [{ year: 2026 }, { parallel: { seek: false } }] as CensusOptions[]) {
      assert.equal(skippedAfter(await reportUntil([file], { untilMs: day(2) }, options)), 0);
    }
  });
});
