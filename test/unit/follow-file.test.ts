// Follow mode on small files: start at the end or the start, rename + create (with the writer still writing to
// the old file, and a line cut by the rotation), copytruncate (with unread data in the copy, and a file that
// grew past the old offset before the next poll), two rotations between polls, and SIGHUP's reopen.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FileFollower } from '../../src/sources/follow-file.js';

function setup(fromStart = false) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-follow-'));
  const file = path.join(dir, 'mail.log');
  const lines: string[] = [];
  const follower = new FileFollower(
    file,
    { line: (b, s, e) => lines.push(b.toString('utf8', s, e)), overlong: (n) => lines.push(`(overlong ${n})`) },
    { fromStart },
  );
  const pollAll = () => {
    while (follower.poll()) {
      // read to the end
    }
  };
  return { dir, file, lines, follower, pollAll, done: () => fs.rmSync(dir, { recursive: true, force: true }) };
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

  it('reopen (SIGHUP) on the same file goes on from where it was', () => {
    const t = setup(true);
    fs.writeFileSync(t.file, 'a\n');
    t.pollAll();
    t.follower.reopen();
    fs.appendFileSync(t.file, 'b\n');
    t.pollAll();
    assert.deepEqual(t.lines, ['a', 'b']);
    t.follower.close();
    t.done();
  });
});
