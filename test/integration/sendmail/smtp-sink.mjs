#!/usr/bin/env node
// smtp-sink.mjs -- the far end of Sendmail's outbound deliveries in the integration suite: a minimal SMTP server
// that accepts and discards every message. (../shared/realmta/sendmail-corpus.sh used a private Postfix for this;
// a sink needs no second MTA, no package and no log of its own: tlscensus only reads Sendmail's side.)
//
//   node smtp-sink.mjs --cert CERT --key KEY --tls-port P1 --plain-port P2 [--pid-file FILE]
//
// P1 offers STARTTLS (Node's OpenSSL 3 defaults: TLSv1.2+), P2 does not (EHLO without STARTTLS). Both listen on
// 127.0.0.1 only. Stops on SIGTERM/SIGINT.
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const k of ['cert', 'key', 'tls-port', 'plain-port']) {
  if (!args[k]) {
    process.stderr.write(`smtp-sink: --${k} is required\n`);
    process.exit(2);
  }
}
const secureContext = tls.createSecureContext({ cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) });

function serve(socket, offerStarttls) {
  let buffer = '';
  let inData = false;
  let secure = false;
  let stream = socket;
  const reply = (line) => stream.write(`${line}\r\n`);
  const onData = (chunk) => {
    buffer += chunk.toString('latin1');
    for (;;) {
      if (inData) {
        const end = buffer.indexOf('\r\n.\r\n');
        if (end < 0) return;
        buffer = buffer.slice(end + 5);
        inData = false;
        reply('250 2.0.0 Ok: discarded');
        continue;
      }
      const nl = buffer.indexOf('\r\n');
      if (nl < 0) return;
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 2);
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') {
        const ext = ['250-sink.test', '250-PIPELINING', '250-8BITMIME'];
        if (offerStarttls && !secure) ext.push('250-STARTTLS');
        ext.push('250 SIZE 10240000');
        stream.write(`${ext.join('\r\n')}\r\n`);
      } else if (verb === 'HELO') reply('250 sink.test');
      else if (verb === 'STAR' && offerStarttls && !secure) {
        reply('220 2.0.0 Ready to start TLS');
        stream.removeListener('data', onData);
        buffer = '';
        const upgraded = new tls.TLSSocket(socket, { isServer: true, secureContext });
        upgraded.on('error', () => socket.destroy());
        upgraded.on('secure', () => {
          secure = true;
          stream = upgraded;
          upgraded.on('data', onData);
        });
        return;
      } else if (verb === 'MAIL' || verb === 'RCPT' || verb === 'RSET' || verb === 'NOOP') reply('250 2.0.0 Ok');
      else if (verb === 'DATA') {
        inData = true;
        reply('354 End data with <CR><LF>.<CR><LF>');
      } else if (verb === 'QUIT') {
        reply('221 2.0.0 Bye');
        stream.end();
        return;
      } else reply('502 5.5.2 Error: command not recognized');
    }
  };
  socket.on('data', onData);
  socket.on('error', () => socket.destroy());
  reply('220 sink.test ESMTP tlscensus sink');
}

const servers = [
  net.createServer((s) => serve(s, true)).listen(Number(args['tls-port']), '127.0.0.1'),
  net.createServer((s) => serve(s, false)).listen(Number(args['plain-port']), '127.0.0.1'),
];
if (args['pid-file']) fs.writeFileSync(args['pid-file'], `${process.pid}\n`);
const stop = () => {
  for (const s of servers) s.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
