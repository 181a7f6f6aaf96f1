// History through the built CLI as a mail admin uses it: `report --history` twice, `trend` in every format,
// `watch --history` until SIGTERM, and one-line errors (exit 2) for files it cannot use.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { fixturePath, ROOT } from '../helpers/paths.js';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const MAILLOG = fixturePath('corpus/postfix/maillog');
// The fixture's day (its lines carry no year): explicit windows keep the test independent of today's date.
const WINDOW = ['--since', '2026-11-20T00:00Z', '--until', '2026-11-30T00:00Z'];

function run(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-history-cli-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

interface TrendJson {
  schema: string;
  by: string;
  sections: string[];
  inbound: { periods: { period: string; sessions: number; tls: number; failed: number; plaintext: number }[] };
  outbound: { periods: { sessions: number }[] };
}

function assertOneLineError(err: string, pattern: RegExp) {
  const lines = err.trim().split('\n');
  assert.match(lines[0] ?? '', pattern);
  assert.match(lines[1] ?? '', /^hint: /);
  assert.equal(lines.length, 2, err);
}

describe('history CLI', () => {
  it('report --history records after printing the same report; twice counts once', () => {
    const db = path.join(tempDir(), 'history.db');
    const plain = run([MAILLOG, '--year', '2026', '--format', 'json']);
    const first = run([MAILLOG, '--year', '2026', '--format', 'json', '--history', db]);
    assert.equal(first.code, 0, first.err);
    assert.equal(first.out, plain.out, 'the report itself is unchanged');
    assert.match(
      first.err,
      /^history: 36 sessions \(2026-11-27 19:02 → 2026-11-27 19:02 UTC, 1 hour\) recorded into /m,
    );
    const report = JSON.parse(plain.out) as { inbound: { totals: { sessions: number; tls: number } } };
    // --direction in shows inbound only, yet the history records the whole log.
    const second = run([MAILLOG, '--year', '2026', '--direction', 'in', '--history', db, '-q']);
    assert.equal(second.code, 0, second.err);
    assert.equal(second.err, '');

    const trend = run(['trend', '--history', db, ...WINDOW, '--by', 'day', '--format', 'json']);
    assert.equal(trend.code, 0, trend.err);
    const j = JSON.parse(trend.out) as TrendJson;
    assert.equal(j.schema, 'tlscensus/trend@1');
    assert.deepEqual(j.sections, ['inbound', 'outbound', 'mailbox']);
    assert.deepEqual(
      j.inbound.periods.map((p) => p.period),
      ['2026-11-27', '2026-11-28', '2026-11-29'],
    );
    assert.equal(j.inbound.periods[0]!.sessions, report.inbound.totals.sessions, 'not doubled');
    assert.equal(j.inbound.periods[0]!.tls, report.inbound.totals.tls);
    assert.equal(j.outbound.periods[0]!.sessions, 5, 'outbound recorded by the --direction in run too');

    const table = run(['trend', '--history', db, ...WINDOW, '--by', 'week']);
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /^tlscensus trend · 2026-11-23 – 2026-11-29 UTC · by week · source default$/m);
    assert.match(table.out, /^INBOUND {2}31 sessions · TLS 48\.4% · legacy 13\.3% of 15 handshakes$/m);
    assert.match(table.out, /^ {2}2026-W48 +\d+% +31 +████▉ +48\.4% +13\.3% +1 +8 +8 +TLSv1\.3 47%/m);
    assert.ok(!table.out.includes('\x1b['), 'no colour off a terminal');

    const csv = run(['trend', '--history', db, ...WINDOW, '--by', 'week', '--format', 'csv', '--direction', 'out']);
    assert.match(csv.out, /^section,period,start,end,hours,observed_hours,sessions,/);
    assert.match(csv.out, /\r\noutbound,2026-W48,2026-11-23T00:00:00\.000Z,2026-11-30T00:00:00\.000Z,168,1,5,2,/);
    const md = run(['trend', '--history', db, ...WINDOW, '--format', 'md']);
    assert.match(md.out, /^\| day \| seen \| sessions \| TLS share \|/m);
  });

  it('trend reads a bare date as the UTC day its periods are, in any zone (review)', () => {
    const db = path.join(tempDir(), 'history.db');
    assert.equal(run([MAILLOG, '--year', '2026', '--timezone', 'UTC', '-q', '--history', db]).code, 0);
    const trend = (tz: string, since: string, until: string) => {
      const r = spawnSync(
        process.execPath,
        [CLI, 'trend', '--history', db, '--since', since, '--until', until, '--by', 'day', '--format', 'json'],
        { encoding: 'utf8', env: { ...process.env, TZ: tz } },
      );
      assert.equal(r.status, 0, r.stderr);
      return (JSON.parse(r.stdout) as TrendJson).inbound.periods.map((p) => [p.period, p.sessions]);
    };
    for (const tz of ['UTC', 'Asia/Tokyo', 'America/Los_Angeles']) {
      // The fixture's sessions are all on 2026-11-27 at 19:02 (UTC): not in a window that starts the day after.
      assert.deepEqual(trend(tz, '2026-11-28', '2026-11-30'), [], tz);
      assert.deepEqual(trend(tz, '2026-11-27', '2026-11-28'), [['2026-11-27', 31]], tz);
    }
  });

  it('trend names the options given: a --service that matched nothing, a --until before the default --since (review)', () => {
    const db = path.join(tempDir(), 'history.db');
    assert.equal(run([MAILLOG, '--year', '2026', '--timezone', 'UTC', '-q', '--history', db]).code, 0);
    const none = run(['trend', '--history', db, ...WINDOW, '--service', 'nosuch']);
    assert.equal(none.code, 0, none.err);
    assert.match(none.err, /^note: --service nosuch matched no recorded session in the window/m);
    const some = run(['trend', '--history', db, ...WINDOW, '--service', 'smtpd']);
    assert.equal(some.err, '');
    const early = run(['trend', '--history', db, '--until', '2020-01-01']);
    assert.equal(early.code, 2);
    assertOneLineError(early.err, /^error: --until "2020-01-01" is before the default --since \(90d ago\)/);
  });

  it('keeps servers apart with --history-source and filters by --source', () => {
    const db = path.join(tempDir(), 'history.db');
    assert.equal(run([MAILLOG, '--year', '2026', '-q', '--history', db, '--history-source', 'mx1']).code, 0);
    assert.equal(run([MAILLOG, '--year', '2026', '-q', '--history', db, '--history-source', 'mx2']).code, 0);
    const both = JSON.parse(run(['trend', '--history', db, ...WINDOW, '--format', 'json']).out) as TrendJson;
    assert.equal(both.inbound.periods[0]!.sessions, 62);
    const one = JSON.parse(
      run(['trend', '--history', db, ...WINDOW, '--format', 'json', '--source', 'mx2']).out,
    ) as TrendJson;
    assert.equal(one.inbound.periods[0]!.sessions, 31);
    const unknown = run(['trend', '--history', db, '--source', 'mx3']);
    assert.equal(unknown.code, 2);
    assertOneLineError(unknown.err, /^error: the history has no source "mx3"/);
    assert.match(unknown.err, /^hint: it has: mx1, mx2$/m);
  });

  it('watch --history writes closed sessions and the rest on SIGTERM', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'mail.log');
    const db = path.join(dir, 'history.db');
    fs.copyFileSync(MAILLOG, log);
    fs.mkdirSync(path.join(dir, 'tf'));
    const child = spawn(
      process.execPath,
      [
        CLI,
        'watch',
        log,
        '--from-start',
        '--year',
        '2026',
        '--textfile',
        path.join(dir, 'tf'),
        '--poll',
        '20ms',
        '--history',
        db,
        '--history-interval',
        '50ms',
        '-q',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const recorded = () => {
      try {
        const h = new Database(db, { readonly: true });
        try {
          return (h.prepare('SELECT COALESCE(SUM(sessions), 0) AS n FROM recordings').get() as { n: number }).n;
        } finally {
          h.close();
        }
      } catch {
        return 0;
      }
    };
    const deadline = Date.now() + 10_000;
    while (recorded() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    assert.ok(recorded() > 0, `flushed while running: ${stderr}`);
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    assert.equal(code, 0, stderr);
    const j = JSON.parse(run(['trend', '--history', db, ...WINDOW, '--format', 'json']).out) as TrendJson;
    assert.equal(j.inbound.periods[0]!.sessions, 31, 'the same census as the report');
    assert.equal(j.outbound.periods[0]!.sessions, 5);
  });

  it('explains files it cannot use in one line with a hint, exit 2', () => {
    const dir = tempDir();
    const notDb = path.join(dir, 'maillog.db');
    fs.copyFileSync(MAILLOG, notDb);
    const corrupt = run([MAILLOG, '--year', '2026', '--history', notDb]);
    assert.equal(corrupt.code, 2);
    assert.equal(corrupt.out, '', 'fails before the report');
    assertOneLineError(corrupt.err, /^error: .*maillog\.db is not a tlscensus history/);
    assertOneLineError(run(['trend', '--history', notDb]).err, /^error: .*maillog\.db is not a tlscensus history/);

    const newer = path.join(dir, 'newer.db');
    assert.equal(run([MAILLOG, '--year', '2026', '-q', '--history', newer]).code, 0);
    const h = new Database(newer);
    h.prepare('INSERT INTO schema_migrations VALUES (99, 0, ?)').run('9.0.0');
    h.close();
    const tooNew = run(['trend', '--history', newer]);
    assert.equal(tooNew.code, 2);
    assertOneLineError(tooNew.err, /^error: the history .* was written by a newer tlscensus \(schema 99;/);

    const missing = run(['trend', '--history', path.join(dir, 'none.db')]);
    assert.equal(missing.code, 2);
    assertOneLineError(missing.err, /^error: no history at /);

    // A directory: said so (review: "disk I/O error, check free space").
    for (const args of [
      ['trend', '--history', dir],
      ['report', fixturePath('corpus/postfix/maillog'), '--history', dir],
    ]) {
      const r = run(args);
      assert.equal(r.code, 2, args[0]);
      assertOneLineError(r.err, /^error: the history .* is a directory/);
    }
    const noDir = run([MAILLOG, '--history', path.join(dir, 'no', 'such', 'dir', 'h.db')]);
    assert.equal(noDir.code, 2);
    assertOneLineError(noDir.err, /^error: cannot create the history .*: its directory does not exist/);
    const keep = run([MAILLOG, '--keep-days', '30']);
    assert.equal(keep.code, 2);
    assertOneLineError(keep.err, /^error: --keep-days and --history-source need --history FILE/);
    const badKeep = run([MAILLOG, '--history', path.join(dir, 'k.db'), '--keep-days', 'forever']);
    assert.equal(badKeep.code, 2);
    assertOneLineError(badKeep.err, /^error: --keep-days "forever" is not a number of days/);
    // A --since in the future without --until: said of --since, the option given (review: it blamed --until).
    const future = run(['trend', '--history', newer, '--since', '9999-12-01']);
    assert.equal(future.code, 2);
    assertOneLineError(future.err, /^error: --since "9999-12-01" is not in the past/);
    assertOneLineError(
      run(['trend', '--history', newer, '--since', '2026-12-01', '--until', '2026-11-01']).err,
      /^error: --until is not after --since/,
    );
    const noHistory = run(['trend']);
    assert.equal(noHistory.code, 2);
    assert.match(noHistory.err, /required option '--history <file>' not specified/);
  });
});
