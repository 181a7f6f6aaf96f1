// Where `watch` puts its metrics: an HTTP endpoint for Prometheus (`--listen`, bound exactly to the address
// given, loopback by default), or a file for node_exporter's textfile collector (`--textfile DIR`), replaced
// atomically (temporary file in the same directory, then rename) so the collector never reads half a file.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { CensusError } from '../model/errors.js';
import type { TlsMetrics } from '../render/prom.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export const DEFAULT_LISTEN = '127.0.0.1:9469';

/** `127.0.0.1:9469`, `[::1]:9469`, `0.0.0.0:9469`, `localhost:9469`. A host is required: nothing is implied. */
export function parseListen(text: string): ListenAddress {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]\s]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || !(port > 0 && port < 65536)) {
    throw new CensusError('bad-listen', `--listen ${JSON.stringify(text)} is not HOST:PORT`, {
      hint: `e.g. --listen ${DEFAULT_LISTEN} (loopback), --listen [::1]:9469, or --listen 0.0.0.0:9469 to serve every interface`,
    });
  }
  return { host: m[1]!, port };
}

export async function serveMetrics(
  metrics: TlsMetrics,
  address: ListenAddress,
): Promise<{ server: http.Server; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url === '/metrics') {
      metrics.text().then(
        (body) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        (e: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${String(e)}\n`);
        },
      );
      return;
    }
    if (url === '/') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('tlscensus watch: metrics at /metrics\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      reject(
        new CensusError('listen-failed', `cannot listen on ${address.host}:${address.port}: ${e.code ?? e.message}`, {
          hint:
            e.code === 'EADDRINUSE'
              ? 'another process uses that port (another tlscensus watch?); choose one with --listen HOST:PORT'
              : 'check the address with --listen HOST:PORT',
        }),
      );
    };
    server.once('error', onError);
    server.listen({ host: address.host, port: address.port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export const TEXTFILE_NAME = 'tlscensus.prom';

/** Writes DIR/tlscensus.prom atomically: a temporary file in DIR, fsync, then rename over the old one. */
export async function writeTextfile(metrics: TlsMetrics, dir: string): Promise<string> {
  const body = await metrics.text();
  const target = path.join(dir, TEXTFILE_NAME);
  // node_exporter reads only *.prom: the temporary name must not end in .prom.
  const tmp = path.join(dir, `.${TEXTFILE_NAME}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeSync(fd, body);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, target);
  return target;
}

export function checkTextfileDir(dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new CensusError('bad-textfile-dir', `--textfile ${JSON.stringify(dir)}: no such directory`, {
      hint: "give node_exporter's --collector.textfile.directory, e.g. /var/lib/prometheus/node-exporter",
    });
  }
  if (!st.isDirectory()) {
    throw new CensusError('bad-textfile-dir', `--textfile ${JSON.stringify(dir)} is not a directory`, {
      hint: 'the textfile collector reads every *.prom file of a directory: give that directory',
    });
  }
}
