// The README's example outputs are what the commands print: each line it shows (those with `…` stand for cut
// text) is a line of the real output, in order. Runs of spaces count as one: a table's columns are as wide as its
// widest row, which the README may leave out. A review found the whatif example's coverage line wrong.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fixturePath, ROOT } from '../helpers/paths.js';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The lines of the README's code block that starts with this command line (the command itself left out). */
function example(command: string): string[] {
  const at = README.indexOf(`\`\`\`\n${command}\n`);
  assert.ok(at >= 0, `the README shows ${command}`);
  const body = README.slice(at + 4 + command.length + 1);
  return body.slice(0, body.indexOf('```')).replace(/\n$/, '').split('\n');
}

function assertShows(shown: string[], args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.status, 0, r.stderr);
  const squeeze = (line: string) => line.replace(/ {2,}/g, ' ');
  const out = r.stdout.split('\n').map(squeeze);
  let from = 0;
  for (const line of shown) {
    if (line.includes('…')) continue;
    const i = out.indexOf(squeeze(line), from);
    assert.ok(i >= 0, `README line not in the output (or out of order): ${JSON.stringify(line)}`);
    from = i + 1;
  }
}

describe('README examples', () => {
  it('npm run sample', () => {
    assertShows(example('$ npm run sample          # = tlscensus samples/maillog'), [
      path.join(ROOT, 'samples', 'maillog'),
    ]);
  });

  it('tlscensus whatif (review: its coverage line)', () => {
    assertShows(example('$ tlscensus whatif maillog --min-protocol TLSv1.2'), [
      'whatif',
      fixturePath('whatif/golden.log'),
      '--min-protocol',
      'TLSv1.2',
    ]);
  });
});
