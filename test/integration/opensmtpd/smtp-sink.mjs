#!/usr/bin/env node
// smtp-sink.mjs -- the relay target of the OpenSMTPD suite: a small SMTP server on loopback with one listener per
// behaviour, which accepts every message and records what each connection negotiated (its own view, independent of
// OpenSMTPD's log) as one JSON line per closed connection.
//
//   node smtp-sink.mjs --cert cert.pem --key key.pem --record sink.jsonl MODE=PORT...
//   MODE  tls13   STARTTLS offered, TLSv1.3 only
//         tls12   STARTTLS offered, TLSv1.2 only with ECDHE-RSA-AES256-GCM-SHA384
//         broken  STARTTLS offered, but after `220 Ready` it answers the ClientHello with plaintext: the client's
//                 handshake fails (OpenSMTPD then downgrades an opportunistic relay to plaintext)
//         plain   no STARTTLS offered
// Record: {"mode","port","tls":{"protocol","cipher"}|null,"messages":n} (cipher as OpenSSL names it).
// Runs until SIGTERM/SIGINT.
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const args = { listeners: [] };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--cert' || a === '--key' || a === '--record') args[a.slice(2)] = process.argv[++i];
  else if (/^(tls13|tls12|broken|plain)=\d+$/.test(a)) {
    const [mode, port] = a.split('=');
    args.listeners.push({ mode, port: Number(port) });
  } else {
    process.stderr.write(`smtp-sink: unknown argument ${a}\n`);
    process.exit(2);
  }
}
const cert = fs.readFileSync(args.cert);
const key = fs.readFileSync(args.key);
const TLS_OPTIONS = {
  tls13: { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' },
  tls12: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' },
};

function serve(socket, mode, port) {
  const conn = { mode, port, tls: null, messages: 0 };
  let stream = socket;
  let buf = '';
  let inData = false;
  const send = (s) => stream.write(`${s}\r\n`);
  let recorded = false;
  const done = () => {
    if (recorded) return;
    recorded = true;
    fs.appendFileSync(args.record, `${JSON.stringify(conn)}\n`);
  };
  socket.on('close', done);
  socket.on('error', () => {});
  const onData = (chunk) => {
    buf += chunk.toString('latin1');
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, '');
      buf = buf.slice(nl + 1);
      if (handle(line) === 'upgrade') return;
      nl = buf.indexOf('\n');
    }
  };
  const handle = (line) => {
    if (inData) {
      if (line === '.') {
        inData = false;
        conn.messages++;
        send(`250 2.0.0 Ok: queued as SINK${conn.messages}`);
      }
      return;
    }
    const verb = line.slice(0, 4).toUpperCase();
    if (verb === 'EHLO' || verb === 'HELO') {
      const ext = mode !== 'plain' && conn.tls === null ? ['250-STARTTLS'] : [];
      for (const l of ['250-sink.test', '250-PIPELINING', ...ext, '250 8BITMIME']) send(l);
    } else if (verb === 'STAR' && mode !== 'plain') {
      send('220 2.0.0 Ready to start TLS');
      socket.removeListener('data', onData);
      if (mode === 'broken') {
        // Whatever the ClientHello says, answer with plaintext: the client sees no ServerHello.
        socket.once('data', () => {
          socket.write('421 4.7.0 this is not TLS\r\n');
          socket.end();
        });
        return 'upgrade';
      }
      const secure = new tls.TLSSocket(socket, { isServer: true, cert, key, ...TLS_OPTIONS[mode] });
      secure.on('error', () => {});
      secure.once('secure', () => {
        conn.tls = { protocol: secure.getProtocol(), cipher: secure.getCipher().name };
      });
      secure.on('data', onData);
      stream = secure;
      return 'upgrade';
    } else if (verb === 'DATA') {
      inData = true;
      send('354 End data with <CR><LF>.<CR><LF>');
    } else if (verb === 'QUIT') {
      send('221 2.0.0 Bye');
      stream.end();
    } else send('250 2.0.0 Ok');
    return null;
  };
  socket.on('data', onData);
  send('220 sink.test ESMTP tlscensus relay target');
}

const servers = args.listeners.map(({ mode, port }) =>
  net.createServer((s) => serve(s, mode, port)).listen({ host: '127.0.0.1', port }),
);
const stop = () => {
  for (const s of servers) s.close();
  setTimeout(() => process.exit(0), 200);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
