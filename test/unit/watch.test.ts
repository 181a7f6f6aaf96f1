// watch end to end on small files: the LogWatcher counts sessions when they close (disconnect or idle TTL by
// the wall clock), and the CLI writes node_exporter textfiles atomically, exits cleanly on SIGTERM, and notices
// rotations through inotify rather than waiting for --poll.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { TlsMetrics } from '../../src/render/prom.js';
import { parseListen } from '../../src/watch/metrics-output.js';
import { parseExposition } from '../helpers/exposition.js';
import { watcherOf } from '../helpers/log-watcher.js';
import { ROOT } from '../helpers/paths.js';

const T0 = Date.UTC(2026, 10, 20, 9, 0, 0);
const stamp = (ms: number) => new Date(ms).toISOString();
const tlsSession = (pid: number, ms: number) =>
  [
    `${stamp(ms)} mx postfix/smtpd[${pid}]: connect from mx.example.org[192.0.2.${pid % 250}]`,
    `${stamp(ms)} mx postfix/smtpd[${pid}]: Anonymous TLS connection established from mx.example.org[192.0.2.${pid % 250}]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)`,
    `${stamp(ms)} mx postfix/smtpd[${pid}]: disconnect from mx.example.org[192.0.2.${pid % 250}] ehlo=2 starttls=1 quit=1 commands=4`,
  ].join('\n');

function value(text: string, name: string): number {
  return parseExposition(text)
    .filter((s) => s.name === name)
    .reduce((n, s) => n + s.value, 0);
}

describe('watch', () => {
  it('counts sessions as they close, and idle ones after the TTL', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-watch-'));
    const file = path.join(dir, 'mail.log');
    fs.writeFileSync(file, '');
    let now = T0;
    const metrics = new TlsMetrics();
    const w = watcherOf(file, metrics, { now: () => now });
    w.poll();
    fs.appendFileSync(file, `${tlsSession(100, T0)}\n${tlsSession(101, T0).split('\n').slice(0, 2).join('\n')}\n`);
    w.poll();
    let text = await metrics.text();
    assert.equal(value(text, 'tlscensus_handshakes_total'), 1, 'the closed session only');
    assert.equal(value(text, 'tlscensus_open_sessions'), 1);
    assert.equal(value(text, 'tlscensus_lines_total'), 5);
    now = T0 + 120_000;
    w.poll();
    text = await metrics.text();
    assert.equal(value(text, 'tlscensus_handshakes_total'), 2, 'the idle one, after the TTL');
    assert.equal(value(text, 'tlscensus_open_sessions'), 0);
    w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("dates lines by the clock as it reads, and closes idle sessions by the log's clock (review)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-watch-clock-'));
    const file = path.join(dir, 'mail.log');
    fs.writeFileSync(file, '');
    const starts: (number | null)[] = [];
    let now = Date.UTC(2026, 10, 29, 12, 0, 0); // started in November
    const metrics = new TlsMetrics();
    const w = watcherOf(file, metrics, { onSession: (s) => starts.push(s.startMs), now: () => now });
    w.poll();
    // December's lines, read in December: this year's, and one session though its lines come two polls apart.
    const dec = (pid: number, s: string) => `Dec  1 00:00:0${s} mx postfix/smtpd[${pid}]: `;
    const ip = '[192.0.2.2]';
    fs.appendFileSync(
      file,
      `${dec(102, '2')}connect from b.example.com${ip}\n${dec(102, '2')}Untrusted TLS connection established from b.example.com${ip}: TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)\n`,
    );
    now = Date.UTC(2026, 11, 1, 0, 0, 3);
    w.poll();
    fs.appendFileSync(file, `${dec(102, '4')}disconnect from b.example.com${ip} ehlo=2 starttls=1 quit=1 commands=4\n`);
    now += 2000;
    w.poll();
    assert.deepEqual(starts, [Date.UTC(2026, 11, 1, 0, 0, 2)]);
    // A log an hour behind the wall clock (the repeated hour after a DST change, a log in UTC read as local
    // time): its sessions are not an hour idle.
    const behind = now - 3600_000;
    fs.appendFileSync(file, `${tlsSession(103, behind).split('\n').slice(0, 2).join('\n')}\n`);
    now += 1000;
    w.poll();
    fs.appendFileSync(file, `${tlsSession(103, behind + 2000).split('\n')[2]}\n`);
    now += 1000;
    w.poll();
    assert.equal(starts.length, 2, 'one session');
    assert.equal(value(await metrics.text(), 'tlscensus_handshakes_total'), 2);
    // And when the log goes quiet, an open session still closes after the TTL.
    fs.appendFileSync(file, `${tlsSession(104, behind + 3000).split('\n')[0]}\n`);
    now += 1000;
    w.poll();
    assert.equal(value(await metrics.text(), 'tlscensus_open_sessions'), 1);
    now += 61_000;
    w.poll();
    assert.equal(value(await metrics.text(), 'tlscensus_open_sessions'), 0);
    assert.equal(starts.length, 3);
    w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('parses --listen strictly', () => {
    assert.deepEqual(parseListen('127.0.0.1:9469'), { host: '127.0.0.1', port: 9469 });
    assert.deepEqual(parseListen('[::1]:9469'), { host: '::1', port: 9469 });
    assert.throws(() => parseListen('9469'), /HOST:PORT/);
    assert.throws(() => parseListen('127.0.0.1:99999'), /HOST:PORT/);
  });

  it('CLI: --textfile writes DIR/tlscensus.prom atomically and on SIGTERM', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-watch-cli-'));
    const log = path.join(dir, 'mail.log');
    const out = path.join(dir, 'textfile');
    fs.mkdirSync(out);
    fs.writeFileSync(log, `${tlsSession(1, Date.now())}\n`);
    // The same file named again through a link is followed once (a review: every session was counted twice).
    const link = path.join(dir, 'maillog');
    fs.symlinkSync(log, link);
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, 'dist/src/cli/main.js'),
        'watch',
        log,
        link,
        '--from-start',
        '--textfile',
        out,
        '--interval',
        '50ms',
        '--poll',
        '20ms',
        '--timezone',
        'UTC',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const prom = path.join(out, 'tlscensus.prom');
    const deadline = Date.now() + 10_000;
    const read = () => (fs.existsSync(prom) ? fs.readFileSync(prom, 'utf8') : '');
    while (value(read(), 'tlscensus_handshakes_total') < 1 && Date.now() < deadline) await sleep(20);
    assert.equal(value(read(), 'tlscensus_handshakes_total'), 1, stderr);
    fs.appendFileSync(log, `${tlsSession(2, Date.now())}\n`);
    while (value(read(), 'tlscensus_handshakes_total') < 2 && Date.now() < deadline) await sleep(20);
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    assert.equal(code, 0, stderr);
    const final = read();
    assert.equal(value(final, 'tlscensus_handshakes_total'), 2);
    assert.equal(value(final, 'tlscensus_lines_total'), 6);
    assert.match(stderr, /maillog is the same file as .*mail\.log: followed once/);
    assert.ok(!/process_cpu|nodejs_/.test(final), 'no process metrics in a textfile (they clash with node_exporter)');
    assert.deepEqual(
      fs.readdirSync(out).filter((f) => f !== 'tlscensus.prom'),
      [],
      'no temporary file left',
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('CLI: refuses a named pipe (its open would block for ever) (review)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-watch-fifo-'));
    const fifo = path.join(dir, 'mail.log');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/src/cli/main.js'), 'watch', fifo], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^error: watch follows regular files, and .*mail\.log is not one/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('CLI: a rotation is noticed through inotify, long before --poll', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-watch-wake-'));
    const log = path.join(dir, 'mail.log');
    const out = path.join(dir, 'textfile');
    fs.mkdirSync(out);
    fs.writeFileSync(log, `${tlsSession(1, Date.now())}\n`);
    // The same file named again through a link is followed once (a review: every session was counted twice).
    const link = path.join(dir, 'maillog');
    fs.symlinkSync(log, link);
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, 'dist/src/cli/main.js'),
        'watch',
        log,
        link,
        '--from-start',
        '--textfile',
        out,
        '--interval',
        '50ms',
        '--poll',
        '10s',
        '--timezone',
        'UTC',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const prom = path.join(out, 'tlscensus.prom');
    const read = () => (fs.existsSync(prom) ? fs.readFileSync(prom, 'utf8') : '');
    let deadline = Date.now() + 5000;
    while (value(read(), 'tlscensus_handshakes_total') < 1 && Date.now() < deadline) await sleep(20);
    // Two rotations in a row (rename + create), each new file written: the next poll is 10 s away.
    fs.renameSync(log, `${log}.1`);
    fs.writeFileSync(log, `${tlsSession(2, Date.now())}\n`);
    fs.renameSync(`${log}.1`, `${log}.2`);
    fs.renameSync(log, `${log}.1`);
    fs.writeFileSync(log, `${tlsSession(3, Date.now())}\n`);
    const t0 = Date.now();
    deadline = t0 + 5000;
    while (value(read(), 'tlscensus_handshakes_total') < 3 && Date.now() < deadline) await sleep(20);
    const took = Date.now() - t0;
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    assert.equal(code, 0, stderr);
    assert.equal(value(read(), 'tlscensus_handshakes_total'), 3, stderr);
    assert.ok(took < 5000, `counted after ${took} ms`);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
