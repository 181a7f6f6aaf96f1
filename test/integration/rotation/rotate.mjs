// Appends Postfix sessions (connect, TLS, disconnect: 3 lines each) to a log while rotating it 100 times by
// rename + create and 100 times by copytruncate, alternating, often with a line cut in the middle by the
// rotation; `tlscensus watch` follows it. At the end the counters must equal what was written, exactly:
// tlscensus_lines_total summed = lines written, tlscensus_handshakes_total = sessions written.
//
//   node rotate.mjs --cli dist/src/cli/main.js --out artifacts/integration/rotation [--rotations 100] [--seed 1]
// Exit status: 0 pass, 1 counts differ, 2 setup error. Bounded: gives up after 240 s.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const cli = path.resolve(opt('--cli', 'dist/src/cli/main.js'));
const out = path.resolve(opt('--out', 'artifacts/integration/rotation'));
const rotationsPerStyle = Number(opt('--rotations', '100'));
let seed = Number(opt('--seed', '1'));
const DEADLINE = Date.now() + 240_000;
// Share of rotations that wait 0-40 ms after the lines before them (the rest come in bursts).
const BURST = Number(opt('--paced', '0.7'));
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
  [cli, 'watch', log, '--listen', `127.0.0.1:${port}`, '--poll', '25ms', '--timezone', 'UTC', '--verbose'],
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
const stats = { rename: 0, copytruncate: 0, cutLines: 0, splitAcrossFiles: 0 };

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

function writeSessions(n) {
  for (let i = 0; i < n; i++) {
    for (const l of sessionLines()) {
      fs.writeSync(fd, l);
      linesWritten++;
    }
  }
}

// logrotate's `rotate 8`: maillog.7 is dropped, maillog.N becomes maillog.N+1.
function shift() {
  for (let n = 7; n >= 1; n--) if (fs.existsSync(`${log}.${n}`)) fs.renameSync(`${log}.${n}`, `${log}.${n + 1}`);
}

async function rotate(style) {
  // Start a session, and cut one of its lines in the middle about half of the time.
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
  shift();
  if (style === 'rename') {
    fs.renameSync(log, `${log}.1`);
    const next = fs.openSync(log, 'a');
    // The daemon keeps writing to the old descriptor until it reopens the file (logrotate's postrotate HUP);
    // sometimes it finishes the cut line there, sometimes the rest lands in the new file.
    // (A writer finishes the line it started before it writes another, so only whole lines follow a cut line
    // in the old file.)
    if (cut && rand() < 0.5) {
      fs.writeSync(next, line.slice(at));
      stats.splitAcrossFiles++;
    } else {
      fs.writeSync(fd, cut ? line.slice(at) : line);
      if (rand() < 0.3) writeSessionsTo(fd, 1);
    }
    fs.closeSync(fd);
    fd = next;
  } else {
    fs.copyFileSync(log, `${log}.1`, fs.constants.COPYFILE_EXCL);
    fs.truncateSync(log, 0);
    fs.writeSync(fd, cut ? line.slice(at) : line);
  }
  linesWritten++;
  fs.writeSync(fd, pending[2]);
  linesWritten++;
  stats[style]++;
}

function writeSessionsTo(target, n) {
  const saved = fd;
  fd = target;
  writeSessions(n);
  fd = saved;
}

const t0 = Date.now();
for (let r = 0; r < 2 * rotationsPerStyle; r++) {
  writeSessions(1 + Math.floor(rand() * 15));
  // Some rotations right after a poll, some in a burst (several before the follower looks again).
  if (rand() < BURST) await sleep(BURST >= 1 ? 60 : Math.floor(rand() * 40));
  await rotate(r % 2 === 0 ? 'rename' : 'copytruncate');
  if (Date.now() > DEADLINE) {
    console.error('rotation: deadline passed while writing');
    break;
  }
}
writeSessions(5);
fs.closeSync(fd);
const writeMs = Date.now() - t0;

// Wait until the counters reach what was written (or stop changing).
let last = null;
let stable = 0;
for (;;) {
  const m = await scrape();
  if (m.lines === linesWritten && m.handshakes === sessionsWritten) {
    last = m;
    break;
  }
  if (last && m.lines === last.lines && m.handshakes === last.handshakes) stable++;
  else stable = 0;
  last = m;
  if (stable > 60 || Date.now() > DEADLINE) break;
  await sleep(50);
}
fs.writeFileSync(path.join(out, 'metrics.txt'), last.text);
child.kill('SIGTERM');
const exit = await Promise.race([
  new Promise((r) => child.on('exit', (code) => r(code))),
  sleep(10_000).then(() => 'timeout'),
]);
fs.closeSync(events);

const result = {
  rotations: stats,
  linesWritten,
  sessionsWritten,
  linesCounted: last.lines,
  handshakesCounted: last.handshakes,
  openSessions: last.open,
  writeMs,
  exitOnSigterm: exit,
};
fs.writeFileSync(path.join(out, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result));
fs.rmSync(work, { recursive: true, force: true });
const ok = last.lines === linesWritten && last.handshakes === sessionsWritten && exit === 0;
console.log(ok ? 'rotation check: PASS' : 'rotation check: FAIL');
process.exit(ok ? 0 : 1);
