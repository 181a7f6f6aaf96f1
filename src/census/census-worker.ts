// A worker thread of the parallel census (parallel-census.ts): it runs the per-line half of the engine over
// the chunks of whole lines it is sent and returns, per chunk, the counts and the observations (encoded), in
// line order. Lines of dialects that keep state across lines go back uninterpreted. It correlates nothing:
// sessions are built on the main thread, in order, exactly as one pass over the file would build them.

import { parentPort, workerData } from 'node:worker_threads';
import { parseZone } from '../envelope/clock.js';
import { selectDialects } from './census.js';
import { LineEngine } from './line-engine.js';
import { ObservationEncoder } from './observation-codec.js';
import { type ChunkClose, type ChunkJob, type ChunkReply, countChunk, type WorkerInit } from './parallel-census.js';

const init = workerData as WorkerInit;
const encoder = new ObservationEncoder();
const engine = new LineEngine(
  {
    dialects: selectDialects(init.mta),
    zone: parseZone(init.timezone),
    year: null,
    maxSamples: init.maxSamples,
    giveUpAfterLines: 0,
    maxLineBytes: init.maxLineBytes,
  },
  encoder,
);
let source: string | null = null;
let sourceMtime: number | null = null;

parentPort!.on('message', (message: ChunkJob | ChunkClose) => {
  // The census is done: close the port, and the thread ends by itself (parallel-census.ts `close`).
  if ('close' in message) {
    parentPort!.close();
    return;
  }
  const job = message;
  if (job.source !== source || job.mtimeMs !== sourceMtime) {
    source = job.source;
    sourceMtime = job.mtimeMs;
    engine.beginSource(job.source, job.mtimeMs);
  }
  engine.beginChunk();
  countChunk(engine, Buffer.from(job.buffer, 0, job.length), job.length, job.linesEnd, init.maxLineBytes);
  const batch = encoder.take();
  const reply: ChunkReply = { seq: job.seq, counts: engine.chunkCounts(), batch, buffer: job.buffer };
  parentPort!.postMessage(reply, [batch.tags.buffer as ArrayBuffer, batch.nums.buffer as ArrayBuffer, job.buffer]);
});
