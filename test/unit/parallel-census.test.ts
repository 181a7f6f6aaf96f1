// The parallel census (worker threads over chunks, correlation in order on the main thread) must give exactly
// the report of one pass on one thread, the reference: seams in the middle of sessions, a rotation set whose
// sessions continue across files (one of them .gz), dialects that keep state across lines, malformed and
// over-long lines with their line numbers, CRLF, a last line without newline, a truncated .gz, and the early
// "nothing recognised" stop. Chunks are made tiny so that a small input has hundreds of seams.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import {
  type CensusOptions,
  census,
  defaultThreadsFor,
  estimatedLogBytes,
  PARALLEL_MIN_BYTES,
} from '../../src/census/census.js';
import { buildReport } from '../../src/render/report-model.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { fixturePath, ROOT } from '../helpers/paths.js';

const SAMPLE = fs
  .readFileSync(path.join(ROOT, 'samples', 'maillog'), 'utf8')
  .split('\n')
  .slice(0, -1);

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-parallel-'));
}

/** The report as JSON (what `report --format json` prints), and how many workers counted. */
async function run(args: string[], options: CensusOptions): Promise<{ json: string; workers: number }> {
  const r = await census(resolveInputs(args), { timezone: 'UTC', maxSamples: 1000, ...options });
  const report = buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs: null });
  return { json: JSON.stringify(report, null, 1), workers: r.diagnostics.workers };
}

async function assertSame(args: string[], chunkBytes: number): Promise<void> {
  const one = await run(args, { threads: 1 });
  assert.equal(one.workers, 0);
  // One worker, and three (their chunks then come back out of order); and with this thread counting chunks
  // ahead whenever the workers are full.
  for (const [threads, countAhead] of [
    [2, 'never'],
    [4, 'never'],
    [2, 'always'],
  ] as const) {
    const many = await run(args, { threads, parallel: { chunkBytes, startAfterBytes: 0, countAhead } });
    assert.equal(many.workers, threads - 1, 'the parallel path was taken');
    assert.equal(many.json, one.json, `threads ${threads}, count ahead ${countAhead}`);
  }
}

/** Lines of a dialect that keeps state across lines (OpenSMTPD's session table, Exchange's #Fields header). */
function statefulLines(): string[] {
  const smtpd = fs
    .readFileSync(fixturePath('corpus', 'opensmtpd', 'mail.log'), 'utf8')
    .split('\n')
    .filter(Boolean);
  const exchange = fs
    .readFileSync(fixturePath('corpus', 'real', 'exchange.log'), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !/^# (?!Fields|Software|Version|Log-type|Date)/.test(l));
  return [...smtpd, ...exchange];
}

/** The sample log made harder: stateful dialects interleaved, CRLF, malformed and over-long lines. */
function hardLines(): string[] {
  const extra = statefulLines();
  const out: string[] = [];
  SAMPLE.forEach((line, i) => {
    if (i % 7 === 3) out.push(`${line}\r`);
    else out.push(line);
    if (i % 97 === 0 && extra.length > 0) out.push(extra[(i / 97) % extra.length]!);
    if (i === 1234) out.push('Nov 20 03:00:00 mx1 postfix/smtpd[999]: TLS connection established from broken');
    if (i === 2222) out.push(`Nov 20 04:00:00 mx1 postfix/smtpd[998]: connect from ${'x'.repeat(70_000)}`);
    if (i === 4321) out.push('Nov 20 05:00:00 mx1 postfix/smtpd[997]: SSL_accept error from no-address: -1');
  });
  return out;
}

describe('parallel census', () => {
  it('equals the one-thread census on one file, however it is cut', async () => {
    const dir = tmpdir();
    const file = path.join(dir, 'maillog');
    fs.writeFileSync(file, hardLines().join('\n')); // and no newline after the last line
    for (const chunk of [1_500, 65_536]) await assertSame([file], chunk);
  });

  it('equals it on a rotation set whose sessions continue from file to file (one of them .gz)', async () => {
    const dir = tmpdir();
    const lines = hardLines();
    // Cut in the middle of sessions: at arbitrary line numbers, not at session ends.
    const a = Math.floor(lines.length * 0.37);
    const b = Math.floor(lines.length * 0.71);
    fs.writeFileSync(path.join(dir, 'maillog.2.gz'), zlib.gzipSync(`${lines.slice(0, a).join('\n')}\n`));
    fs.writeFileSync(path.join(dir, 'maillog.1'), `${lines.slice(a, b).join('\n')}\n`);
    fs.writeFileSync(path.join(dir, 'maillog'), lines.slice(b).join('\n'));
    await assertSame([dir], 3_000);
  });

  it('equals it when a .gz is truncated: the same lines counted, the same issue', async () => {
    const dir = tmpdir();
    const gz = zlib.gzipSync(`${hardLines().join('\n')}\n`);
    fs.writeFileSync(path.join(dir, 'maillog.1.gz'), gz.subarray(0, Math.floor(gz.length * 0.6)));
    fs.writeFileSync(path.join(dir, 'maillog'), `${SAMPLE.slice(0, 500).join('\n')}\n`);
    await assertSame([dir], 2_000);
  });

  it('stops early the same way when nothing is recognised', async () => {
    const dir = tmpdir();
    const file = path.join(dir, 'syslog');
    const noise = Array.from(
      { length: 60_000 },
      (_, i) => `Nov 20 00:00:${String(i % 60).padStart(2, '0')} h cron[${i}]: tick`,
    );
    fs.writeFileSync(file, `${noise.join('\n')}\n`);
    const message = async (options: CensusOptions) => {
      try {
        await census(resolveInputs([file]), options);
        return 'no error';
      } catch (e) {
        return (e as Error).message;
      }
    };
    const one = await message({ threads: 1 });
    assert.match(one, /none of the first 50000 lines/);
    assert.equal(await message({ threads: 2, parallel: { chunkBytes: 4_096, startAfterBytes: 0 } }), one);
  });

  it('starts no worker by default for a small input, and counts a .gz as its uncompressed size, roughly', async () => {
    const dir = tmpdir();
    const plain = path.join(dir, 'maillog');
    fs.writeFileSync(plain, `${SAMPLE.join('\n')}\n`);
    const gz = path.join(dir, 'maillog.1.gz');
    fs.writeFileSync(gz, zlib.gzipSync(`${SAMPLE.join('\n')}\n`));
    assert.equal((await run([plain], {})).workers, 0);
    const size = fs.statSync(plain).size;
    const gzSize = fs.statSync(gz).size;
    assert.equal(estimatedLogBytes(resolveInputs([plain])), size);
    assert.equal(estimatedLogBytes(resolveInputs([plain, gz])), size + 5 * gzSize);
    assert.equal(estimatedLogBytes([{ path: '-', mtimeMs: null, sizeBytes: null }]), null);
    assert.ok(size < PARALLEL_MIN_BYTES);
    // Asked for, threads are used whatever the size.
    assert.equal((await run([plain], { threads: 2, parallel: { startAfterBytes: 0 } })).workers, 1);
  });

  it('leaves a core to inflating when most of the log is .gz', () => {
    // Real files (a .gz is told by its magic bytes), with the sizes of big ones.
    const dir = tmpdir();
    const plainFile = path.join(dir, 'maillog');
    fs.writeFileSync(plainFile, `${SAMPLE.join('\n')}\n`);
    const gzFile = path.join(dir, 'maillog.1.gz');
    fs.writeFileSync(gzFile, zlib.gzipSync(`${SAMPLE.join('\n')}\n`));
    const big = (p: string, sizeBytes: number) => ({
      path: p.endsWith('.gz') ? gzFile : plainFile,
      mtimeMs: null,
      sizeBytes,
    });
    const plain = big('maillog', 1 << 30);
    const gz = big('maillog.1.gz', 200 << 20);
    assert.equal(defaultThreadsFor([plain], 2), 2);
    // Big logs, .gz or not, get every core (the chunk pipeline leaves one to inflating itself, in census()).
    assert.equal(defaultThreadsFor([gz], 2), 2);
    assert.equal(defaultThreadsFor([gz], 4), 4);
    assert.equal(defaultThreadsFor([gz], 1), 1);
    assert.equal(defaultThreadsFor([plain, big('maillog.2.gz', 100 << 20)], 2), 2);
    assert.equal(defaultThreadsFor([{ path: '-', mtimeMs: null, sizeBytes: null }], 2), 2);
    assert.equal(defaultThreadsFor([big('maillog.1.gz', 1 << 20)], 4), 1, 'small: one thread');
  });
});
