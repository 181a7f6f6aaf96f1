// Appends Postfix sessions (connect, TLS, disconnect: 3 lines each) to a log while rotating it 100 times by
// rename + create and 100 times by copytruncate, in a seeded random order, *unpaced*: the writer rotates as fast
// as it can (no sleep anywhere in the loop; often several rotations before `tlscensus watch` looks again).
// About 60% of rotations cut a line in the middle; after a rename the writer finishes the cut line in the old
// file (sometimes with more sessions, as a daemon that reopens late) or in the new one. Rotated files are named
// like logrotate's (`mail.log.1`, shifted to `.2`, … — or dated, `mail.log-20261120-0001`, with --naming dated),
// compressed to `.gz` some time after their rotation (--compress-after ms, 0 = at once when the writer has left
// them) and deleted a while later (--delete-after ms; the run goes on until all are deleted). `tlscensus watch`
// follows the log; at the end the counters must equal what was written, exactly: tlscensus_lines_total summed =
// lines written, tlscensus_handshakes_total = sessions written.
//
//   node rotate.mjs --cli dist/src/cli/main.js --out DIR [--rotations 100] [--seed 1] [--naming numeric|dated]
//                   [--poll 25ms] [--compress-after 100] [--delete-after 1000]
// Exit status: 0 pass, 1 counts differ, 2 setup error. Bounded: gives up after --deadline seconds (default 90).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const cli = path.resolve(opt('--cli', 'dist/src/cli/main.js'));
const out = path.resolve(opt('--out', 'artifacts/integration/rotation'));
const rotationsPerStyle = Number(opt('--rotations', '100'));
const seed0 = Number(opt('--seed', '1'));
let seed = seed0;
const naming = opt('--naming', 'numeric');
const poll = opt('--poll', '25ms');
const compressAfterMs = Number(opt('--compress-after', '100'));
const deleteAfterMs = Number(opt('--delete-after', '1000'));
const DEADLINE = Date.now() + Number(opt('--deadline', '90')) * 1000;
fs.mkdirSync(out, { recursive: true });

const rand = () => {
  // mulberry32: the same run for the same seed
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-rotation-'));
const log = path.join(work, 'mail.log');
fs.writeFileSync(log, '');
const port = await freePort();
const events = fs.openSync(path.join(out, 'watch-stderr.log'), 'w');
const child = spawn(
  process.execPath,
  [cli, 'watch', log, '--listen', `127.0.0.1:${port}`, '--poll', poll, '--timezone', 'UTC', '--verbose'],
  { stdio: ['ignore', 'ignore', events] },
);
let exited = null;
child.on('exit', (code, signal) => {
  exited = { code, signal };
});

async function scrape() {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  const sum = (name) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return {
    text,
    lines: sum('tlscensus_lines_total'),
    handshakes: sum('tlscensus_handshakes_total'),
    open: sum('tlscensus_open_sessions'),
  };
}

// wait for the server
for (;;) {
  if (exited) {
    console.error(`watch exited early: ${JSON.stringify(exited)}`);
    process.exit(2);
  }
  try {
    await scrape();
    break;
  } catch {
    if (Date.now() > DEADLINE) process.exit(2);
    await sleep(50);
  }
}

let fd = fs.openSync(log, 'a');
let pid = 1000;
let linesWritten = 0;
let sessionsWritten = 0;
const stats = {
  rename: 0,
  copytruncate: 0,
  cutLines: 0,
  splitAcrossFiles: 0,
  lateReopen: 0,
  compressed: 0,
  deleted: 0,
  maxRotatedFiles: 0,
};

function sessionLines() {
  pid++;
  const ip = `192.0.2.${pid % 250}`;
  const t = new Date().toISOString();
  sessionsWritten++;
  return [
    `${t} mx postfix/smtpd[${pid}]: connect from mx${pid}.example.org[${ip}]`,
    `${t} mx postfix/smtpd[${pid}]: Anonymous TLS connection established from mx${pid}.example.org[${ip}]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)`,
    `${t} mx postfix/smtpd[${pid}]: disconnect from mx${pid}.example.org[${ip}] ehlo=2 starttls=1 quit=1 commands=4`,
  ].map((l) => `${l}\n`);
}

function writeSessions(n, target = fd) {
  for (let i = 0; i < n; i++) {
    for (const l of sessionLines()) {
      fs.writeSync(target, l);
      linesWritten++;
    }
  }
}

// Rotated files: when each was rotated (by inode, since `.N` names shift), for the janitor.
const rotatedAt = new Map();
let dated = 0;

/** Frees the name the file is rotated to: logrotate's shift (`.N` → `.N+1`, `.gz` too) or a new dated name. */
function rotatedName() {
  if (naming === 'dated') {
    dated++;
    return `${log}-20261120-${String(dated).padStart(4, '0')}`;
  }
  const nums = fs
    .readdirSync(work)
    .map((n) => /^mail\.log\.(\d+)(\.gz)?$/.exec(n))
    .filter((m) => m !== null)
    .sort((a, b) => Number(b[1]) - Number(a[1]));
  for (const m of nums) {
    const gz = m[2] ?? '';
    fs.renameSync(`${log}.${m[1]}${gz}`, `${log}.${Number(m[1]) + 1}${gz}`);
  }
  return `${log}.1`;
}

/** Compresses rotated files --compress-after ms after their rotation, deletes them --delete-after ms after it. */
function janitor() {
  const now = Date.now();
  let rotated = 0;
  for (const name of fs.readdirSync(work)) {
    if (name === 'mail.log') continue;
    rotated++;
    const p = path.join(work, name);
    let st;
    try {
      st = fs.statSync(p);
    } catch {
      continue;
    }
    const at = rotatedAt.get(st.ino) ?? now;
    if (!rotatedAt.has(st.ino)) rotatedAt.set(st.ino, at);
    if (now - at >= deleteAfterMs) {
      fs.unlinkSync(p);
      rotatedAt.delete(st.ino);
      stats.deleted++;
    } else if (!name.endsWith('.gz') && now - at >= compressAfterMs) {
      fs.writeFileSync(`${p}.gz`, zlib.gzipSync(fs.readFileSync(p)));
      rotatedAt.set(fs.statSync(`${p}.gz`).ino, at);
      fs.unlinkSync(p);
      rotatedAt.delete(st.ino);
      stats.compressed++;
    }
  }
  stats.maxRotatedFiles = Math.max(stats.maxRotatedFiles, rotated);
}

function rotate(style) {
  // Start a session, and cut one of its lines in the middle about 60% of the time.
  const pending = sessionLines();
  fs.writeSync(fd, pending[0]);
  linesWritten++;
  const cut = rand() < 0.6;
  const line = pending[1];
  const at = 5 + Math.floor(rand() * (line.length - 10));
  if (cut) {
    fs.writeSync(fd, line.slice(0, at));
    stats.cutLines++;
  }
  const to = rotatedName();
  if (style === 'rename') {
    fs.renameSync(log, to);
    rotatedAt.set(fs.statSync(to).ino, Date.now());
    const next = fs.openSync(log, 'a');
    // The daemon keeps writing to the old descriptor until it reopens the file (logrotate's postrotate HUP);
    // sometimes it finishes the cut line there, sometimes the rest lands in the new file. (A writer finishes
    // the line it started before it writes another, so only whole lines follow a cut line in the old file.)
    if (cut && rand() < 0.5) {
      fs.writeSync(next, line.slice(at));
      stats.splitAcrossFiles++;
    } else {
      fs.writeSync(fd, cut ? line.slice(at) : line);
      if (rand() < 0.3) {
        writeSessions(1 + Math.floor(rand() * 3), fd);
        stats.lateReopen++;
      }
    }
    fs.closeSync(fd);
    fd = next;
  } else {
    fs.copyFileSync(log, to, fs.constants.COPYFILE_EXCL);
    rotatedAt.set(fs.statSync(to).ino, Date.now());
    fs.truncateSync(log, 0);
    fs.writeSync(fd, cut ? line.slice(at) : line);
  }
  linesWritten++;
  fs.writeSync(fd, pending[2]);
  linesWritten++;
  stats[style]++;
  janitor();
}

// Both styles, the same number of each, in a seeded order (so a style often follows itself).
const order = [...Array(rotationsPerStyle).fill('rename'), ...Array(rotationsPerStyle).fill('copytruncate')];
for (let i = order.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [order[i], order[j]] = [order[j], order[i]];
}

const t0 = Date.now();
for (const style of order) {
  writeSessions(Math.floor(rand() * 6)); // 0-5 sessions: often a rotation right after the previous one
  rotate(style);
  if (Date.now() > DEADLINE) {
    console.error('rotation: deadline passed while writing');
    break;
  }
}
writeSessions(5);
fs.closeSync(fd);
const writeMs = Date.now() - t0;

// Wait until the counters reach what was written (or stop changing), and until the janitor has compressed and
// deleted every rotated file (so files read and held by the watcher are deleted under it, and nothing it counted
// is counted again afterwards).
const rotatedLeft = () => fs.readdirSync(work).filter((n) => n !== 'mail.log').length;
let last = null;
let stable = 0;
for (;;) {
  janitor();
  const m = await scrape();
  const done = m.lines === linesWritten && m.handshakes === sessionsWritten;
  if (done && rotatedLeft() === 0) {
    last = m;
    break;
  }
  if (last && m.lines === last.lines && m.handshakes === last.handshakes) stable++;
  else stable = 0;
  last = m;
  if ((!done && stable > 60) || Date.now() > DEADLINE) break;
  await sleep(50);
}
fs.writeFileSync(path.join(out, 'metrics.txt'), last.text);
child.kill('SIGTERM');
const exit = await Promise.race([
  new Promise((r) => child.on('exit', (code) => r(code))),
  sleep(10_000).then(() => 'timeout'),
]);
fs.closeSync(events);
const stderr = fs.readFileSync(path.join(out, 'watch-stderr.log'), 'utf8');

const result = {
  seed: seed0,
  naming,
  poll,
  compressAfterMs,
  deleteAfterMs,
  rotations: stats,
  linesWritten,
  sessionsWritten,
  linesCounted: last.lines,
  handshakesCounted: last.handshakes,
  openSessions: last.open,
  writeMs,
  rotationsPerSecond: Math.round((2 * rotationsPerStyle * 1000) / Math.max(1, writeMs)),
  lossWarnings: stderr.split('\n').filter((l) => /lost|skipped|no rotated copy/.test(l)).length,
  exitOnSigterm: exit,
};
fs.writeFileSync(path.join(out, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result));
fs.rmSync(work, { recursive: true, force: true });
const ok = last.lines === linesWritten && last.handshakes === sessionsWritten && exit === 0;
console.log(ok ? 'rotation check: PASS' : 'rotation check: FAIL');
process.exit(ok ? 0 : 1);
