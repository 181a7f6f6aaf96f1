#!/usr/bin/env node
// line-client.mjs -- a scripted line-protocol client (IMAP/POP3/SMTP without TLS) that can connect from a chosen
// loopback source address, which bash's /dev/tcp and openssl s_client (3.0) cannot. Used by realmta.sh drivers.
//
//   node line-client.mjs --port N [--host 127.0.0.1] [--bind 127.0.0.5] STEP...
//   STEP: --until PREFIX   read lines until one starts with PREFIX (5 s timeout)
//         --send TEXT      send TEXT + CRLF
//
// Prints the dialogue (S:/C: lines) to stdout. Exit status 0 when every step completed, 1 otherwise.
import net from 'node:net';

const argv = process.argv.slice(2);
let host = '127.0.0.1';
let port = 0;
let bind;
const steps = [];
for (let i = 0; i < argv.length; i += 2) {
  const [k, v] = [argv[i], argv[i + 1] ?? ''];
  if (k === '--host') host = v;
  else if (k === '--port') port = Number(v);
  else if (k === '--bind') bind = v;
  else if (k === '--until' || k === '--send') steps.push([k.slice(2), v]);
  else {
    process.stderr.write(`line-client: unknown argument ${k}\n`);
    process.exit(2);
  }
}

const socket = net.connect({ host, port, ...(bind ? { localAddress: bind } : {}) });
let buffer = '';
const lines = [];
let wake = null;
socket.setEncoding('latin1');
socket.on('data', (chunk) => {
  buffer += chunk;
  let nl = buffer.indexOf('\n');
  while (nl >= 0) {
    lines.push(buffer.slice(0, nl).replace(/\r$/, ''));
    buffer = buffer.slice(nl + 1);
    nl = buffer.indexOf('\n');
  }
  wake?.();
});
socket.on('close', () => wake?.());
socket.on('error', (e) => {
  console.log(`E: ${e.message}`);
  process.exit(1);
});

async function nextLine() {
  const deadline = Date.now() + 5000;
  while (lines.length === 0) {
    if (socket.destroyed || Date.now() > deadline) return null;
    await new Promise((r) => {
      wake = r;
      setTimeout(r, 100);
    });
  }
  return lines.shift();
}

socket.once('connect', async () => {
  for (const [kind, text] of steps) {
    if (kind === 'send') {
      console.log(`C: ${text}`);
      socket.write(`${text}\r\n`);
      continue;
    }
    for (;;) {
      const line = await nextLine();
      if (line === null) {
        console.log(`E: no line starting with ${JSON.stringify(text)}`);
        socket.destroy();
        process.exit(1);
      }
      console.log(`S: ${line}`);
      if (line.startsWith(text)) break;
    }
  }
  socket.end();
  console.log('C: <close>');
  setTimeout(() => process.exit(0), 200);
});
