// Follow mode against a rotation simulator: a single writer appends lines (some cut in two by a rotation) while
// the log is rotated by rename + create (the writer reopening late, sometimes after a second rotation; sometimes
// without create), by copytruncate, many times between two polls, with `.N` shifting or date-like names; rotated
// files are compressed (`.gz`, never read) or deleted once the follower has looked since they were last written
// (the documented limit: a file created and deleted between two looks cannot be read). The follower must yield
// exactly the lines written, in order. Seeded: a failure names its seed.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { FileFollower } from '../../src/sources/follow-file.js';

type Naming = 'numeric' | 'dated' | 'dotdate';

function mulberry32(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs one seeded scenario; returns the lines written and the lines read. */
export function simulate(seed: number, ops: number, naming: Naming, trace?: (s: string) => void) {
  const rand = mulberry32(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-rotsim-'));
  const file = path.join(dir, 'mail.log');
  const written: string[] = [];
  const read: string[] = [];
  const events: string[] = [];
  // Old rotated files present at start: never read.
  fs.writeFileSync(`${file}.1`, 'old line 1\nold line 2\n');
  fs.writeFileSync(`${file}.2.gz`, zlib.gzipSync('old compressed\n'));
  if (rand() < 0.5) fs.writeFileSync(file, 'before start\n');
  const follower = new FileFollower(
    file,
    { line: (b, s, e) => read.push(b.toString('utf8', s, e)), overlong: (n) => read.push(`(overlong ${n})`) },
    {
      fromStart: false,
      onEvent: (m) => {
        events.push(m);
        trace?.(`  EVENT ${m}`);
      },
      budgetBytes: rand() < 0.3 ? 700 : 8 << 20,
    },
  );
  let step = 0;
  let lastPoll = -1;
  /** Per inode: the step of the last write (or of its creation). */
  const lastWrite = new Map<number, number>();
  const inoOf = (fd: number) => fs.fstatSync(fd).ino;
  const pollAll = () => {
    let guard = 0;
    while (follower.poll()) assert.ok(guard++ < 10_000, 'poll never settles');
    // A look left waiting (a copy of the file looked under way) has not seen the set: nothing is settled by it.
    if (!follower.waiting) lastPoll = step;
  };
  pollAll(); // starts at the end of what is there
  let wfd = fs.openSync(file, 'a');
  lastWrite.set(inoOf(wfd), step);
  let seq = 0;
  let cut: string | null = null; // the rest of a line cut in two
  let dated = 20261120_0000;

  const write = (text: string) => {
    fs.writeSync(wfd, text);
    lastWrite.set(inoOf(wfd), step);
  };
  const newLine = () => {
    const l = `${++seq} ${'x'.repeat(Math.floor(rand() * 90))} ${seq}`;
    written.push(l);
    return l;
  };
  const finishCut = () => {
    if (cut !== null) write(`${cut}\n`);
    cut = null;
  };
  const siblings = () =>
    fs
      .readdirSync(dir)
      .filter((n) => n !== 'mail.log')
      .map((n) => path.join(dir, n));
  /** Frees the first rotated name (numeric: shifts everything up by one) and returns it. */
  const rotatedName = () => {
    if (naming !== 'numeric') {
      dated++;
      return naming === 'dated' ? `${file}-${String(dated).slice(0, 8)}-${String(dated).slice(8)}` : `${file}.${dated}`;
    }
    const nums = siblings()
      .map((p) => /\.(\d+)(\.gz)?$/.exec(p))
      .filter((m) => m !== null)
      .map((m) => ({ n: Number(m[1]), gz: m[2] ?? '' }))
      .sort((a, b) => b.n - a.n);
    for (const { n, gz } of nums) fs.renameSync(`${file}.${n}${gz}`, `${file}.${n + 1}${gz}`);
    return `${file}.1`;
  };
  /**
   * Rotated files the follower has looked at since they were last written, and that the writer has left (as
   * logrotate compresses after the daemon reopened: `delaycompress`, or after postrotate).
   */
  const settled = () =>
    siblings().filter((p) => {
      const st = fs.statSync(p);
      return p.endsWith('.gz') || ((lastWrite.get(st.ino) ?? -1) < lastPoll && st.ino !== inoOf(wfd));
    });

  for (step = 0; step < ops; step++) {
    const r = rand();
    trace?.(`step ${step} r=${r.toFixed(3)} line ${seq} writer on inode ${inoOf(wfd)}: ${listing(dir)}`);
    if (r < 0.3) {
      finishCut();
      const n = Math.floor(rand() * 4);
      for (let i = 0; i < n; i++) write(`${newLine()}\n`);
    } else if (r < 0.4) {
      finishCut();
      const l = `${newLine()}\n`;
      const at = 1 + Math.floor(rand() * (l.length - 1));
      write(l.slice(0, at));
      cut = l.slice(at, -1);
    } else if (r < 0.55) {
      // rename (+ create): the writer keeps its descriptor until it reopens
      if (!fs.existsSync(file)) continue;
      fs.renameSync(file, rotatedName());
      if (rand() < 0.85) {
        const created = fs.openSync(file, 'a');
        lastWrite.set(inoOf(created), step);
        fs.closeSync(created);
      }
      if (rand() < 0.6) {
        // usually the writer reopens at once (postrotate HUP), finishing a cut line in the old or new file
        if (cut !== null && rand() < 0.5) finishCut();
        fs.closeSync(wfd);
        wfd = fs.openSync(file, 'a');
        lastWrite.set(inoOf(wfd), step);
      }
    } else if (r < 0.68) {
      // copytruncate
      if (!fs.existsSync(file)) continue;
      const to = rotatedName();
      fs.copyFileSync(file, to, fs.constants.COPYFILE_EXCL);
      lastWrite.set(fs.statSync(to).ino, step);
      fs.truncateSync(file, 0);
      const st = fs.statSync(file);
      lastWrite.set(st.ino, step);
    } else if (r < 0.74) {
      // the writer reopens the name (SIGHUP)
      fs.closeSync(wfd);
      wfd = fs.openSync(file, 'a');
      lastWrite.set(inoOf(wfd), step);
    } else if (r < 0.8) {
      const ok = settled().filter((p) => !p.endsWith('.gz'));
      if (ok.length === 0) continue;
      const p = pick(ok);
      fs.writeFileSync(`${p}.gz`, zlib.gzipSync(fs.readFileSync(p)));
      fs.unlinkSync(p);
    } else if (r < 0.84) {
      // one settled file, or (like logrotate's `rotate 4`) every settled one past the four newest
      const ok = settled();
      if (rand() < 0.5) {
        if (ok.length > 0) fs.unlinkSync(pick(ok));
      } else {
        const newestFirst = siblings().sort((a, b) => fs.statSync(b).ctimeMs - fs.statSync(a).ctimeMs);
        for (const p of newestFirst.slice(4)) if (ok.includes(p)) fs.unlinkSync(p);
      }
    } else if (r < 0.93) {
      pollAll();
    }
  }
  finishCut();
  write(`${newLine()}\n`);
  fs.closeSync(wfd);
  // the writer may have ended on a rotated file: a last line in the file by its name
  const fd = fs.openSync(file, 'a');
  fs.writeSync(fd, `${newLine()}\n`);
  fs.closeSync(fd);
  pollAll();
  pollAll();
  follower.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { written, read, events };
}

/** `name#inode:size` for each file of the directory (traces). */
function listing(dir: string): string {
  return fs
    .readdirSync(dir)
    .sort()
    .map((n) => {
      const st = fs.statSync(path.join(dir, n));
      return `${n}#${st.ino}:${st.size}`;
    })
    .join(' ');
}

describe('FileFollower under a rotation simulator', () => {
  for (const naming of ['numeric', 'dated', 'dotdate'] as const) {
    it(`reads exactly the lines written, in order (${naming} names, 40 seeds)`, () => {
      for (let seed = 1; seed <= 40; seed++) {
        const { written, read, events } = simulate(seed * 7919 + naming.length, 160, naming);
        if (read.length !== written.length || read.some((l, i) => l !== written[i])) {
          const i = read.findIndex((l, k) => l !== written[k]);
          assert.fail(
            `seed ${seed} (${naming}): ${read.length} lines read, ${written.length} written; first difference at ${i}: ` +
              `read ${JSON.stringify(read[i])}, written ${JSON.stringify(written[i])}\n${events.join('\n')}`,
          );
        }
      }
    });
  }
});
