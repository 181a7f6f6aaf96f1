// The range census (one thread per byte range, from end to end, views merged) must give exactly the report of
// one pass on one thread: on a log of several days from bench/genlog.mjs with seams in the middle of sessions,
// malformed, over-long and CRLF lines; and when a seam cannot be trusted (a warm-up too short, a dialect that
// keeps state across lines, a clock that jumps back) it must notice and read on from the seam itself. The same
// holds for the history (`--history`) collected on the way: each range's thread collects its own.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { type CensusOptions, census } from '../../src/census/census.js';
import { planRanges } from '../../src/census/range-census.js';
import { HourBuckets } from '../../src/history/hour-buckets.js';
import { buildReport } from '../../src/render/report-model.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { canonicalBatch } from '../helpers/history-batch.js';
import { fixturePath, ROOT } from '../helpers/paths.js';

let dir = '';
/** Genlog's lines: five days and a half at a low rate, two MX hosts in one file. */
let lines: string[] = [];
/** Thirteen hours at a higher rate: sessions open at any moment. */
let dense: string[] = [];

function genlog(rate: string): string[] {
  const gen = spawnSync(
    process.execPath,
    [path.join(ROOT, 'bench', 'genlog.mjs'), '--lines', '30000', '--seed', 'ranges', '--rate', rate, '--hosts', '2'],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  assert.equal(gen.status, 0, gen.stderr);
  return gen.stdout.split('\n').slice(0, -1);
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-ranges-'));
  lines = genlog('0.004');
  dense = genlog('0.05');
});

/** `content` with a real OpenSMTPD line (a dialect that keeps state across lines) after every 500th line. */
function withStatefulLines(content: string[]): string[] {
  const smtpd = fs
    .readFileSync(fixturePath('corpus', 'opensmtpd', 'mail.log'), 'utf8')
    .split('\n')
    .filter(Boolean);
  return content.flatMap((l, i) => (i % 500 === 250 ? [l, smtpd[((i / 500) % smtpd.length) | 0]!] : [l]));
}

function write(name: string, content: string[]): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, `${content.join('\n')}\n`);
  return p;
}

/**
 * The report as JSON, followed by the history (`--history`) collected on the way, and how many worker threads
 * counted. The history's name caps are small, so that which names become `other` depends on the order they came,
 * and its window leaves out the logs' first six hours.
 */
async function run(file: string | string[], options: CensusOptions): Promise<{ json: string; workers: number }> {
  const files = Array.isArray(file) ? file : [file];
  const history = new HourBuckets({
    maxCipherNames: 4,
    maxServiceNames: 2,
    window: { fromMs: Date.UTC(2026, 10, 20, 6), toMs: Number.POSITIVE_INFINITY },
  });
  const r = await census(resolveInputs(files), { timezone: 'UTC', maxSamples: 1000, history, ...options });
  const report = buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs: null });
  const batch = canonicalBatch(history.take());
  assert.ok(batch.includes('\\u0000other'), 'the history caps were reached');
  return { json: `${JSON.stringify(report, null, 1)}\n${batch}`, workers: r.diagnostics.workers };
}

/** One pass against 2, 3 and 4 ranges; `trusted`: whether the seams are expected to hold. */
async function assertSame(
  file: string | string[],
  trusted: boolean,
  parallel: CensusOptions['parallel'] = {},
): Promise<void> {
  const one = await run(file, { threads: 1 });
  for (const threads of [2, 3, 4]) {
    const ranges = await run(file, { threads, parallel: { rangeMinBytes: 0, ...parallel } });
    assert.equal(ranges.json, one.json, `${threads} ranges`);
    assert.equal(ranges.workers, trusted ? threads - 1 : 0, `${threads} ranges: seams ${trusted ? 'held' : 'read on'}`);
  }
}

describe('range census', () => {
  it('equals one pass over days of log, seams falling inside sessions', async () => {
    await assertSame(write('plain.log', lines), true);
  });

  it('keeps malformed, over-long and CRLF lines, with their line numbers', async () => {
    const hard = lines.map((l, i) => (i % 11 === 5 ? `${l}\r` : l));
    for (const at of [3_000, 10_001, 15_000, 22_500, 29_000]) {
      const stamp = hard[at]!.slice(0, 15);
      hard.splice(at, 0, `${stamp} mx1 postfix/smtpd[999]: TLS connection established from broken`);
      hard.splice(at + 2, 0, `${stamp} mx1 postfix/smtpd[998]: connect from ${'x'.repeat(70_000)}`);
    }
    await assertSame(write('hard.log', hard), true);
  });

  it('reads on from the seam when the warm-up is too short to rebuild the open sessions', async () => {
    await assertSame(write('short-warmup.log', dense), false, { warmupMs: 60_000 });
  });

  it('reads on from the seam when a dialect that keeps state across lines is in the log', async () => {
    const mixed = withStatefulLines(lines);
    await assertSame(write('stateful.log', mixed), false);
  });

  it('stays exact when the clock jumps back (the halves of the log swapped)', async () => {
    const half = lines.length >> 1;
    const swapped = [...lines.slice(half), ...lines.slice(0, half)];
    const file = write('swapped.log', swapped);
    const one = await run(file, { threads: 1 });
    for (const threads of [2, 3, 4]) {
      assert.equal((await run(file, { threads, parallel: { rangeMinBytes: 0 } })).json, one.json, `${threads}`);
    }
  });

  it("keeps each section's peers per service as one pass does (what-if with master.cf)", async () => {
    const file = write('by-service.log', lines);
    // Every peer of every service table, its maps as sorted entries.
    const dump = async (threads: number) => {
      const r = await census(resolveInputs([file]), {
        timezone: 'UTC',
        threads,
        peersByService: true,
        parallel: { rangeMinBytes: 0 },
      });
      const out: unknown[] = [];
      assert.equal(r.view.mailbox.byService, null, 'IMAP/POP3 peers are not kept per service');
      for (const section of ['inbound', 'outbound'] as const) {
        const tables = [...r.view[section].byService!].sort(([a], [b]) => (a < b ? -1 : 1));
        for (const [service, table] of tables) {
          const peers = [...table.values()]
            .map((p) => JSON.stringify(p, (_k, v) => (v instanceof Map || v instanceof Set ? [...v].sort() : v)))
            .sort();
          out.push([section, service, peers]);
        }
      }
      // (And the services seen, whatever the filter kept: told to a --service that matched nothing.)
      out.push(r.diagnostics.servicesSeen);
      return { json: JSON.stringify(out), workers: r.diagnostics.workers };
    };
    const one = await dump(1);
    assert.ok(one.json.includes('submission/smtpd') && one.json.includes('"smtp"'), 'several services per section');
    for (const threads of [2, 3]) {
      const ranges = await dump(threads);
      assert.equal(ranges.workers, threads - 1, `${threads} ranges: seams held`);
      assert.equal(ranges.json, one.json, `${threads} ranges`);
    }
  });

  it('equals one pass over a .gz, each range inflating it from the start', async () => {
    const file = path.join(dir, 'plain.log.gz');
    fs.writeFileSync(file, zlib.gzipSync(`${lines.join('\n')}\n`));
    await assertSame(file, true);
  });

  it("equals one pass over a .gz of two members (the trailer then tells only the last one's size)", async () => {
    const half = lines.length >> 1;
    const file = path.join(dir, 'members.log.gz');
    fs.writeFileSync(
      file,
      Buffer.concat([
        zlib.gzipSync(`${lines.slice(0, half).join('\n')}\n`),
        zlib.gzipSync(`${lines.slice(half).join('\n')}\n`),
      ]),
    );
    const one = await run(file, { threads: 1 });
    for (const threads of [2, 3]) {
      assert.equal((await run(file, { threads, parallel: { rangeMinBytes: 0 } })).json, one.json, `${threads}`);
    }
  });

  it('equals one pass over a .gz with a line longer than the gap between two seams', async () => {
    const half = lines.length >> 1;
    const huge = `${lines[half]!.slice(0, 15)} mx1 postfix/smtpd[77]: connect from ${'x'.repeat(3 << 20)}`;
    const file = path.join(dir, 'huge-line.log.gz');
    fs.writeFileSync(file, zlib.gzipSync(`${[...lines.slice(0, half), huge, ...lines.slice(half)].join('\n')}\n`));
    await assertSame(file, true);
  });

  it('equals one pass over a truncated .gz, wherever the seams fall', async () => {
    const whole = zlib.gzipSync(`${lines.join('\n')}\n`);
    for (const keep of [0.3, 0.8]) {
      const file = path.join(dir, `truncated-${keep}.log.gz`);
      fs.writeFileSync(file, whole.subarray(0, Math.floor(whole.length * keep)));
      const one = await run(file, { threads: 1 });
      for (const threads of [2, 4]) {
        const ranges = await run(file, { threads, parallel: { rangeMinBytes: 0 } });
        assert.equal(ranges.json, one.json, `${keep} kept, ${threads} ranges`);
      }
    }
  });

  it('reads a .gz on from the seam when one does not hold, and stays exact with a short warm-up', async () => {
    const mixed = withStatefulLines(lines);
    const stateful = path.join(dir, 'stateful.log.gz');
    fs.writeFileSync(stateful, zlib.gzipSync(`${mixed.join('\n')}\n`));
    await assertSame(stateful, false);
    // Whether a one-minute warm-up holds depends on what is open at the seam; the report may not.
    const file = path.join(dir, 'dense.log.gz');
    fs.writeFileSync(file, zlib.gzipSync(`${dense.join('\n')}\n`));
    const one = await run(file, { threads: 1 });
    for (const threads of [2, 3, 4]) {
      const ranges = await run(file, { threads, parallel: { rangeMinBytes: 0, warmupMs: 60_000 } });
      assert.equal(ranges.json, one.json, `${threads} ranges`);
    }
  });

  /** The lines as a rotation set, oldest first: `maillog.3.gz maillog.2.gz maillog.1 maillog`, `gz` as asked. */
  function rotation(name: string, content: string[], gz: boolean[] = [true, true, false, false]): string[] {
    const quarter = Math.ceil(content.length / 4);
    return [3, 2, 1, 0].map((n, k) => {
      const text = `${content.slice(k * quarter, (k + 1) * quarter).join('\n')}\n`;
      const base = path.join(dir, n === 0 ? `${name}` : `${name}.${n}`);
      if (gz[k]) {
        fs.writeFileSync(`${base}.gz`, zlib.gzipSync(text));
        return `${base}.gz`;
      }
      fs.writeFileSync(base, text);
      return base;
    });
  }

  it('equals one pass over a rotation set counted in runs of whole files', async () => {
    const hard = lines.map((l, i) => (i % 13 === 4 ? `${l}\r` : l));
    for (const at of [2_000, 9_000, 16_000, 24_000]) {
      hard.splice(at, 0, `${hard[at]!.slice(0, 15)} mx1 postfix/smtpd[999]: TLS connection established from broken`);
    }
    const files = rotation('set', hard);
    const one = await run(files, { threads: 1 });
    for (const threads of [2, 3, 4]) {
      const ranges = await run(files, { threads, parallel: { rangeMinBytes: 0 } });
      assert.equal(ranges.json, one.json, `${threads} runs`);
      assert.equal(ranges.workers, threads - 1, `${threads} runs: seams held`);
    }
    // Plain files only, and .gz only.
    await assertSame(rotation('plain-set', lines, [false, false, false, false]), true);
    await assertSame(rotation('gz-set', lines, [true, true, true, true]), true);
  });

  it('equals one pass over a rotation set with a truncated .gz inside, or a seam that does not hold', async () => {
    const files = rotation('broken-set', lines);
    const whole = fs.readFileSync(files[1]!);
    fs.writeFileSync(files[1]!, whole.subarray(0, whole.length >> 1));
    const one = await run(files, { threads: 1 });
    for (const threads of [2, 3, 4]) {
      assert.equal((await run(files, { threads, parallel: { rangeMinBytes: 0 } })).json, one.json, `${threads}`);
    }
    const mixed = withStatefulLines(lines);
    await assertSame(rotation('stateful-set', mixed), false);
    // A .gz cut down to its two magic bytes, and an empty one: no trailer to read (planning must not fail).
    const tiny = rotation('tiny-set', lines);
    for (const [i, bytes] of [
      [0, Buffer.from([0x1f, 0x8b])],
      [1, Buffer.alloc(0)],
    ] as const) {
      fs.writeFileSync(tiny[i]!, bytes);
    }
    const tinyOne = await run(tiny, { threads: 1 });
    for (const threads of [2, 4]) {
      assert.equal(
        (await run(tiny, { threads, parallel: { rangeMinBytes: 0 } })).json,
        tinyOne.json,
        `tiny .gz, ${threads}`,
      );
    }
    // A one-minute warm-up on a busy log: whether a seam holds depends on what is open there; the report may not.
    const busy = rotation('busy-set', dense);
    const busyOne = await run(busy, { threads: 1 });
    for (const threads of [2, 3, 4]) {
      const ranges = await run(busy, { threads, parallel: { rangeMinBytes: 0, warmupMs: 60_000 } });
      assert.equal(ranges.json, busyOne.json, `busy, ${threads} runs`);
    }
  });

  it('stops with "nothing recognised" as one pass does when the first 50,000 lines are not mail', async () => {
    const noise = Array.from(
      { length: 60_000 },
      (_, i) =>
        `Nov 19 ${String(10 + (i % 12)).padStart(2, '0')}:00:00 mx1 sshd[${i}]: Connection closed by 203.0.113.9`,
    );
    const plain = write('noise-first.log', [...noise, ...lines]);
    const gz = path.join(dir, 'noise-first.log.gz');
    fs.writeFileSync(gz, zlib.gzipSync(`${[...noise, ...lines].join('\n')}\n`));
    const set = rotation('noise-set', [...noise, ...lines], [false, false, false, false]);
    for (const files of [[plain], [gz], set]) {
      const one = await run(files, { threads: 1 }).then(
        () => 'no error',
        (e: Error) => e.message,
      );
      assert.match(one, /none of the first 50000 lines/);
      for (const threads of [2, 4]) {
        const ranges = await run(files, { threads, parallel: { rangeMinBytes: 0 } }).then(
          () => 'no error',
          (e: Error) => e.message,
        );
        assert.equal(ranges, one, `${files[0]}, ${threads} threads`);
      }
    }
  });

  it('reads the files it started with when logrotate renames them meanwhile', async () => {
    const reference = write('rotated-ref.log', lines);
    const one = await run(reference, { threads: 1 });
    for (const [name, parallel] of [
      ['rotated.log', { rangeMinBytes: 0 }],
      ['rotated-fallback.log', { rangeMinBytes: 0, warmupMs: 1 }],
    ] as const) {
      const file = write(name, lines);
      let renamed = false;
      const r = await census(resolveInputs([file]), {
        timezone: 'UTC',
        maxSamples: 1000,
        threads: 2,
        parallel,
        onProgress: () => {
          if (renamed) return;
          renamed = true;
          fs.renameSync(file, `${file}.1`);
          fs.writeFileSync(file, 'Nov 20 00:00:00 mx1 postfix/smtpd[1]: connect from new[192.0.2.99]\n');
        },
      });
      assert.ok(renamed, 'renamed while counting');
      const report = buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs: null });
      const json = JSON.stringify(report, null, 1).replaceAll(file, reference);
      assert.equal(json, one.json.slice(0, one.json.lastIndexOf('\n')), name); // (the report, without the history)
    }
  });

  it('is not planned without timestamps at a seam, or when warm-ups would outweigh the ranges', () => {
    const noTime = write(
      'no-time.log',
      lines.map((l) => `x ${l}`),
    );
    assert.equal(planRanges(resolveInputs([noTime])[0]!, 2, 'UTC'), null);
    const plain = resolveInputs([write('plain2.log', lines)])[0]!;
    assert.ok(planRanges(plain, 2, 'UTC') !== null);
    // Five days and a half in 40 ranges: each is shorter than three warm-ups.
    assert.equal(planRanges(plain, 40, 'UTC'), null);
  });
});
