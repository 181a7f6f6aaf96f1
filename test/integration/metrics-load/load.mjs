// 10,000 scrapes of /metrics from `tlscensus watch` on loopback, while lines keep arriving: latency
// percentiles per block of 1,000 scrapes and the server's RSS (from its own process_resident_memory_bytes) at the
// start and the end. Latency and memory must stay flat (generous bounds: the last block's p50 within 3x of the
// first's + 5 ms, p99 under 250 ms, RSS growth under 64 MiB).
//
//   node load.mjs --cli dist/src/cli/main.js --out artifacts/integration/metrics-load [--scrapes 10000]
// Exit status: 0 pass, 1 a bound was exceeded, 2 setup error. Bounded: gives up after 240 s. Loopback only.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const cli = path.resolve(opt('--cli', 'dist/src/cli/main.js'));
const out = path.resolve(opt('--out', 'artifacts/integration/metrics-load'));
const scrapes = Number(opt('--scrapes', '10000'));
const DEADLINE = Date.now() + 240_000;
fs.mkdirSync(out, { recursive: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const port = await new Promise((resolve, reject) => {
  const s = net.createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-load-'));
const log = path.join(work, 'mail.log');
fs.writeFileSync(log, '');
const child = spawn(process.execPath, [cli, 'watch', log, '--listen', `127.0.0.1:${port}`, '--poll', '50ms'], {
  stdio: ['ignore', 'ignore', 'inherit'],
});

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function scrape() {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
        else resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, body });
      });
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}
const rssOf = (body) => Number(/^process_resident_memory_bytes (\S+)$/m.exec(body)?.[1] ?? Number.NaN);

for (;;) {
  try {
    await scrape();
    break;
  } catch {
    if (Date.now() > DEADLINE) process.exit(2);
    await sleep(50);
  }
}

// Lines keep arriving, with ciphers and services that vary (and a few hostile ones), so series are created.
let pid = 1;
const writer = setInterval(() => {
  const lines = [];
  for (let i = 0; i < 20; i++) {
    pid++;
    const t = new Date().toISOString();
    const cipher = pid % 50 === 0 ? `WEIRD-CIPHER-${pid}` : 'TLS_AES_256_GCM_SHA384';
    lines.push(
      `${t} mx postfix/smtpd[${pid}]: connect from mx.example.org[192.0.2.${pid % 250}]`,
      `${t} mx postfix/smtpd[${pid}]: Anonymous TLS connection established from mx.example.org[192.0.2.${pid % 250}]: TLSv1.3 with cipher ${cipher} (256/256 bits)`,
      `${t} mx postfix/smtpd[${pid}]: disconnect from mx.example.org[192.0.2.${pid % 250}] ehlo=2 starttls=1 quit=1 commands=4`,
    );
  }
  fs.appendFileSync(log, `${lines.join('\n')}\n`);
}, 20);

const block = 1000;
const blocks = [];
let rssStart = Number.NaN;
let rssEnd = Number.NaN;
let failures = 0;
const t0 = Date.now();
for (let b = 0; b * block < scrapes && Date.now() < DEADLINE; b++) {
  const lat = [];
  let last = '';
  for (let i = 0; i < block; i++) {
    try {
      const r = await scrape();
      lat.push(r.ms);
      last = r.body;
    } catch {
      failures++;
    }
  }
  lat.sort((x, y) => x - y);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? Number.NaN;
  const rss = rssOf(last);
  if (b === 0) rssStart = rss;
  rssEnd = rss;
  blocks.push({
    block: b,
    p50: +q(0.5).toFixed(2),
    p90: +q(0.9).toFixed(2),
    p99: +q(0.99).toFixed(2),
    max: +q(1).toFixed(2),
    rssMiB: +(rss / 2 ** 20).toFixed(1),
  });
  console.log(JSON.stringify(blocks.at(-1)));
}
clearInterval(writer);
const final = await scrape();
child.kill('SIGTERM');
await Promise.race([new Promise((r) => child.on('exit', r)), sleep(10_000)]);
agent.destroy();
fs.rmSync(work, { recursive: true, force: true });

const first = blocks[0];
const lastBlock = blocks.at(-1);
const done = blocks.length * block;
const handshakes = final.body
  .split('\n')
  .filter((l) => l.startsWith('tlscensus_handshakes_total{'))
  .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
const series = final.body.split('\n').filter((l) => l.startsWith('tlscensus_handshakes_total{')).length;
const checks = {
  allScrapes: done >= scrapes && failures === 0,
  p50Flat: lastBlock.p50 <= first.p50 * 3 + 5,
  p99Bounded: blocks.every((b) => b.p99 < 250),
  rssFlat: rssEnd - rssStart < 64 * 2 ** 20,
  seriesCapped: series <= 65,
};
const result = {
  scrapes: done,
  failures,
  seconds: (Date.now() - t0) / 1000,
  rssStartMiB: +(rssStart / 2 ** 20).toFixed(1),
  rssEndMiB: +(rssEnd / 2 ** 20).toFixed(1),
  handshakesCounted: handshakes,
  handshakeSeries: series,
  blocks,
  checks,
};
fs.writeFileSync(path.join(out, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
const ok = Object.values(checks).every(Boolean);
console.log(JSON.stringify({ ...result, blocks: undefined }));
console.log(ok ? 'metrics-load check: PASS' : `metrics-load check: FAIL ${JSON.stringify(checks)}`);
process.exit(ok ? 0 : 1);
