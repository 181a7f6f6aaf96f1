// The CLI's contact with the process: the progress line on a terminal's stderr never shares a line with output.

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { processIo } from '../../src/cli/io.js';
import type { InputSpec } from '../../src/sources/resolve-inputs.js';

/** Streams that record every write, in order, as `out:` or `err:`; stderr is a terminal. */
function terminal() {
  const writes: string[] = [];
  return {
    writes,
    streams: {
      stdout: { write: (t: string) => writes.push(`out:${t}`) },
      stderr: { write: (t: string) => writes.push(`err:${t}`), isTTY: true },
    },
  };
}

const INPUT: InputSpec = { path: 'maillog', mtimeMs: null, sizeBytes: 1000 };

describe('cli io', () => {
  it('clears a drawn progress line before any output, whether or not the command ended it (review: report)', () => {
    const t = terminal();
    const io = processIo(t.streams);
    io.progressFor([INPUT], false).onProgress!(INPUT, 500);
    assert.match(t.writes.at(-1)!, /^err:\r\x1b\[K0 MB \(50%\)/);
    io.out('tlscensus · no sessions\n');
    assert.deepEqual(t.writes.slice(-2), ['err:\r\x1b[K', 'out:tlscensus · no sessions\n']);
    // Cleared once: the next output follows directly.
    io.out('coverage\n');
    assert.equal(t.writes.at(-1), 'out:coverage\n');
    assert.equal(t.writes.at(-2), 'out:tlscensus · no sessions\n');
  });

  it('clears it before a warning on stderr too, and draws nothing when stderr is no terminal or --quiet', () => {
    const t = terminal();
    const io = processIo(t.streams);
    io.progressFor([INPUT], false).onProgress!(INPUT, 10);
    io.err('warning: read failed');
    assert.deepEqual(t.writes.slice(-2), ['err:\r\x1b[K', 'err:warning: read failed\n']);
    assert.deepEqual(io.progressFor([INPUT], true), {});
    const pipe = processIo({ stdout: t.streams.stdout, stderr: { write: t.streams.stderr.write } });
    assert.deepEqual(pipe.progressFor([INPUT], false), {});
  });

  it('writes pieces only as fast as a slow reader takes them, and stops making them when the reader has gone', async () => {
    // A pipe that is full after every write until it drains (process.stdout on a pipe is asynchronous on Linux:
    // without waiting, a 122 MB what-if JSON into `| gzip` took 1 GiB).
    const stdout = Object.assign(new EventEmitter(), {
      writes: [] as string[],
      write(t: string) {
        stdout.writes.push(t);
        return false;
      },
    });
    const io = processIo({ stdout, stderr: { write: () => true } });
    let made = 0;
    function* pieces() {
      for (let i = 0; i < 5; i++) {
        made++;
        yield `piece ${i}\n`;
      }
    }
    const done = io.outAll(pieces());
    await new Promise((r) => setImmediate(r));
    assert.deepEqual([made, stdout.writes.length], [1, 1], 'waits for the first to drain');
    stdout.emit('drain');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual([made, stdout.writes.length], [2, 2]);
    assert.equal(stdout.listenerCount('drain'), 1, 'one waiter at a time, the earlier removed');
    // The reader goes (`| head`): the wait ends, and no further piece is made.
    stdout.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    await done;
    assert.deepEqual([made, stdout.writes.length], [2, 2]);
    assert.equal(io.stdoutClosed, true);
    assert.equal(stdout.listenerCount('drain'), 0);
  });

  it('stops waiting when stdout closes without an error (a destroyed stream; a review)', async () => {
    const stdout = Object.assign(new EventEmitter(), { write: (_t: string) => false });
    const io = processIo({ stdout, stderr: { write: () => true } });
    let made = 0;
    const done = io.outAll(
      (function* () {
        for (let i = 0; i < 3; i++) {
          made++;
          yield 'x';
        }
      })(),
    );
    await new Promise((r) => setImmediate(r));
    stdout.emit('close');
    await done;
    assert.equal(made, 1);
    assert.equal(io.stdoutClosed, true);
  });
});
