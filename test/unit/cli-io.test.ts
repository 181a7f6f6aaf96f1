// The CLI's contact with the process: the progress line on a terminal's stderr never shares a line with output.

import assert from 'node:assert/strict';
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
});
