// Follow mode on small files: start at the end or the start, rename + create (with the writer still writing to
// the old file, and a line cut by the rotation), copytruncate (with unread data in the copy, and a file that
// grew past the old offset before the next poll), many rotations of both styles between polls (same file times),
// a rotated file compressed and deleted while still being read, date-named sets, old and compressed siblings
// never read, a truncation with no copy, SIGHUP's reopen, and the inotify wake-up.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { FileFollower } from '../../src/sources/follow-file.js';

function setup(fromStart = false, onWake?: () => void) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-follow-'));
  const file = path.join(dir, 'mail.log');
  const lines: string[] = [];
  const events: string[] = [];
  const follower = new FileFollower(
    file,
    { line: (b, s, e) => lines.push(b.toString('utf8', s, e)), overlong: (n) => lines.push(`(overlong ${n})`) },
    { fromStart, onEvent: (m) => events.push(m), ...(onWake ? { onWake } : {}) },
  );
  const pollAll = () => {
    while (follower.poll()) {
      // read to the end
    }
  };
  const done = () => {
    follower.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { dir, file, lines, events, follower, pollAll, done };
}

/** logrotate's `.N` shift: maillog.N(.gz) becomes maillog.N+1(.gz), oldest first. */
function shift(file: string): void {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const nums = fs
    .readdirSync(dir)
    .map((n) => new RegExp(`^${base.replace('.', '\\.')}\\.(\\d+)(\\.gz)?$`).exec(n))
    .filter((m) => m !== null)
    .sort((a, b) => Number(b[1]) - Number(a[1]));
  for (const m of nums) fs.renameSync(`${file}.${m[1]}${m[2] ?? ''}`, `${file}.${Number(m[1]) + 1}${m[2] ?? ''}`);
}

function renameRotate(file: string): void {
  shift(file);
  fs.renameSync(file, `${file}.1`);
  fs.writeFileSync(file, '');
}

function copytruncate(file: string): void {
  shift(file);
  fs.copyFileSync(file, `${file}.1`);
  fs.truncateSync(file, 0);
}

describe('FileFollower', () => {
  it('starts at the end of an existing file by default, and reads a file created later whole', () => {
    const t = setup();
    fs.writeFileSync(t.file, 'old 1\nold 2\n');
    t.pollAll();
    fs.appendFileSync(t.file, 'new 1\n');
    t.pollAll();
    assert.deepEqual(t.lines, ['new 1']);
    t.done();
    const u = setup();
    u.pollAll();
    fs.writeFileSync(u.file, 'first\n');
    u.pollAll();
    assert.deepEqual(u.lines, ['first']);
    u.done();
  });

  it('reads the whole file with fromStart and keeps a partial last line until it is complete', () => {
    const t = setup(true);
    fs.writeFileSync(t.file, 'a\nb\nhal');
    t.pollAll();
    assert.deepEqual(t.lines, ['a', 'b']);
    fs.appendFileSync(t.file, 'f\r\n');
    t.pollAll();
    assert.deepEqual(t.lines, ['a', 'b', 'half']);
    t.done();
  });

  it('rename + create: drains the old file (the writer still writes there) before switching', () => {
    const t = setup(true);
    const w = fs.openSync(t.file, 'a');
    fs.writeSync(w, 'one\ntwo-');
    t.pollAll();
    fs.renameSync(t.file, `${t.file}.1`);
    fs.writeFileSync(t.file, '');
    t.pollAll(); // new file empty: the writer has not moved on yet
    fs.writeSync(w, 'half\nthree\n'); // still the old descriptor: the cut line ends in the old file
    fs.closeSync(w);
    fs.appendFileSync(t.file, 'four\n');
    t.pollAll();
    fs.appendFileSync(t.file, 'five\n');
    t.pollAll();
    assert.deepEqual(t.lines, ['one', 'two-half', 'three', 'four', 'five']);
    t.done();
  });

  it('a line cut by a rename and finished in the new file is one line', () => {
    const t = setup(true);
    fs.writeFileSync(t.file, 'one\ntw');
    t.pollAll();
    fs.renameSync(t.file, `${t.file}.1`);
    fs.writeFileSync(t.file, 'o\nthree\n');
    t.pollAll();
    assert.deepEqual(t.lines, ['one', 'two', 'three']);
    t.done();
  });

  it('copytruncate: unread lines are taken from the copy, then the file is read from 0', () => {
    const t = setup(true);
    fs.writeFileSync(t.file, 'a\n');
    t.pollAll();
    fs.appendFileSync(t.file, 'b\nc-');
    fs.copyFileSync(t.file, `${t.file}.1`);
    fs.truncateSync(t.file, 0);
    fs.appendFileSync(t.file, 'cut\nd\n');
    t.pollAll();
    assert.deepEqual(t.lines, ['a', 'b', 'c-cut', 'd']);
    t.done();
  });

  it('copytruncate: notices the rewrite even when the file grew past the old offset', () => {
    const t = setup(true);
    fs.writeFileSync(t.file, 'x\n');
    t.pollAll();
    fs.copyFileSync(t.file, `${t.file}.1`);
    fs.truncateSync(t.file, 0);
    fs.appendFileSync(t.file, 'longer line 1\nlonger line 2\n');
    t.pollAll();
    assert.deepEqual(t.lines, ['x', 'longer line 1', 'longer line 2']);
    t.done();
  });

  it('two renames between polls: the file rotated through is read whole, in order', () => {
    const t = setup(true);
    fs.writeFileSync(t.file, '1\n');
    t.pollAll();
    fs.appendFileSync(t.file, '2\n');
    fs.renameSync(t.file, `${t.file}.1`);
    fs.writeFileSync(t.file, '3\n');
    const past = new Date(Date.now() + 5);
    fs.utimesSync(t.file, past, past);
    fs.renameSync(`${t.file}.1`, `${t.file}.2`);
    fs.renameSync(t.file, `${t.file}.1`);
    fs.writeFileSync(t.file, '4\n');
    const later = new Date(Date.now() + 10);
    fs.utimesSync(t.file, later, later);
    t.pollAll();
    assert.deepEqual(t.lines, ['1', '2', '3', '4']);
    t.done();
  });

  it('many rotations of both styles between two polls, all with the same file times: read once each, in order', () => {
    const t = setup(true);
    fs.writeFileSync(t.file, 'l1\n');
    t.pollAll();
    const same = new Date('2026-11-20T00:00:00Z');
    fs.appendFileSync(t.file, 'l2\nl3-');
    renameRotate(t.file);
    fs.appendFileSync(t.file, 'cut\nl4\n');
    copytruncate(t.file);
    fs.appendFileSync(t.file, 'l5\n');
    renameRotate(t.file);
    fs.appendFileSync(t.file, 'l6\n');
    copytruncate(t.file);
    copytruncate(t.file); // nothing written in between: an empty copy
    fs.appendFileSync(t.file, 'l7\n');
    renameRotate(t.file);
    fs.appendFileSync(t.file, 'l8\n');
    for (const n of fs.readdirSync(t.dir)) fs.utimesSync(path.join(t.dir, n), same, same);
    t.pollAll();
    assert.deepEqual(t.lines, ['l1', 'l2', 'l3-cut', 'l4', 'l5', 'l6', 'l7', 'l8']);
    fs.appendFileSync(t.file, 'l9\n');
    t.pollAll();
    assert.equal(t.lines.at(-1), 'l9');
    assert.equal(t.lines.length, 9);
    t.done();
  });

  it('a rotated file compressed and deleted at once is read to its end through the descriptor held', () => {
    const t = setup(true);
    const w = fs.openSync(t.file, 'a');
    fs.writeSync(w, 'a\nb-');
    t.pollAll();
    fs.renameSync(t.file, `${t.file}.1`);
    fs.writeFileSync(t.file, '');
    fs.writeSync(w, 'half\nc\n'); // the writer finishes in the old file, then reopens
    fs.closeSync(w);
    fs.writeFileSync(`${t.file}.1.gz`, zlib.gzipSync(fs.readFileSync(`${t.file}.1`)));
    fs.unlinkSync(`${t.file}.1`);
    fs.appendFileSync(t.file, 'd\n');
    t.pollAll();
    assert.deepEqual(t.lines, ['a', 'b-half', 'c', 'd']);
    t.done();
  });

  it('copytruncate of a file nothing was read from yet (empty at the last poll)', () => {
    const t = setup(true);
    fs.writeFileSync(t.file, '');
    t.pollAll();
    fs.appendFileSync(t.file, 'x1\nx2\n');
    copytruncate(t.file);
    t.pollAll(); // the file is empty again: the copy is read now
    assert.deepEqual(t.lines, ['x1', 'x2']);
    fs.appendFileSync(t.file, 'y1\n');
    copytruncate(t.file);
    fs.appendFileSync(t.file, 'z1\n');
    t.pollAll();
    assert.deepEqual(t.lines, ['x1', 'x2', 'y1', 'z1']);
    t.done();
  });

  it('rotated and compressed siblings there at start, or appearing later, are never read', () => {
    const t = setup();
    fs.writeFileSync(`${t.file}.1`, 'old 1\n');
    fs.writeFileSync(`${t.file}.2.gz`, zlib.gzipSync('old 2\n'));
    fs.writeFileSync(`${t.file}-20261101`, 'old dated\n');
    t.pollAll(); // no file yet
    fs.writeFileSync(t.file, 'new 1\n');
    t.pollAll();
    fs.writeFileSync(`${t.file}.1.gz`, zlib.gzipSync('old 1\n'));
    fs.unlinkSync(`${t.file}.1`);
    renameRotate(t.file);
    fs.appendFileSync(t.file, 'new 2\n');
    t.pollAll();
    assert.deepEqual(t.lines, ['new 1', 'new 2']);
    t.done();
  });

  it('date-named rotations are ordered by their names, newest the largest', () => {
    const t = setup(true);
    fs.writeFileSync(t.file, 'd1\n');
    t.pollAll();
    fs.appendFileSync(t.file, 'd2\n');
    fs.renameSync(t.file, `${t.file}-20261120`);
    fs.writeFileSync(t.file, 'd3\n');
    fs.renameSync(t.file, `${t.file}-20261121`);
    fs.writeFileSync(t.file, 'd4\n');
    fs.copyFileSync(t.file, `${t.file}-20261122`);
    fs.truncateSync(t.file, 0);
    fs.appendFileSync(t.file, 'd5\n');
    t.pollAll();
    assert.deepEqual(t.lines, ['d1', 'd2', 'd3', 'd4', 'd5']);
    t.done();
  });

  it('truncated with no copy anywhere: says lines may be lost, and reads the file from its start', () => {
    const t = setup(true);
    fs.writeFileSync(t.file, 'p1\n');
    t.pollAll();
    fs.appendFileSync(t.file, 'p2\n');
    fs.truncateSync(t.file, 0);
    fs.appendFileSync(t.file, 'q1\n');
    t.pollAll();
    assert.deepEqual(t.lines, ['p1', 'q1']);
    assert.ok(
      t.events.some((e) => /truncated, and no rotated copy/.test(e)),
      t.events.join('\n'),
    );
    t.done();
  });

  it('onWake: inotify on the directory wakes the caller when the file is rotated', async () => {
    let woken = 0;
    const t = setup(true, () => woken++);
    fs.writeFileSync(t.file, 'w1\n');
    t.pollAll();
    const before = woken;
    fs.appendFileSync(t.file, 'w2\n'); // an append alone does not wake
    fs.writeFileSync(path.join(t.dir, 'other.log'), 'x\n'); // nor another file
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(woken, before);
    fs.renameSync(t.file, `${t.file}.1`);
    fs.writeFileSync(t.file, 'w3\n');
    const deadline = Date.now() + 5000;
    while (woken === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(woken > before, 'woken by the rename');
    t.pollAll();
    assert.deepEqual(t.lines, ['w1', 'w2', 'w3']);
    t.done();
  });

  it('reopen (SIGHUP) on the same file goes on from where it was', () => {
    const t = setup(true);
    fs.writeFileSync(t.file, 'a\n');
    t.pollAll();
    t.follower.reopen();
    fs.appendFileSync(t.file, 'b\n');
    t.pollAll();
    assert.deepEqual(t.lines, ['a', 'b']);
    t.done();
  });
});
