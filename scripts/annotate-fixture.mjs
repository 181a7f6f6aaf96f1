#!/usr/bin/env node
// Drafts `# line:` annotations for a dialect fixture from what the current build yields, so that a person
// can review every one against the log-format reference and the corpus truth before committing it.
// Never commit its output unreviewed: a fixture that only restates the code proves nothing.
//
//   npm run build && node scripts/annotate-fixture.mjs postfix plain-lines.log > test/fixtures/dialects/postfix.log

import fs from 'node:fs';
import { MALFORMED } from '../dist/src/dialects/dialect.js';
import { DIALECTS } from '../dist/src/dialects/registry.js';
import { parseZone, WallClock, YearResolver } from '../dist/src/envelope/clock.js';
import { parseEnvelope } from '../dist/src/envelope/parse-envelope.js';

const [id, file] = process.argv.slice(2);
const dialect = DIALECTS.find((d) => d.id === id);
if (!dialect || !file) {
  console.error('usage: annotate-fixture.mjs <dialect-id> <file>');
  process.exit(2);
}
const ctx = { clock: new WallClock(parseZone('UTC')), years: new YearResolver(2026, 0) };
const interpret = dialect.createInterpreter();
const KEEP = [
  'kind',
  'direction',
  'service',
  'peer',
  'protocol',
  'cipher',
  'reason',
  'starttls',
  'commands',
  'queueId',
  'status',
  'iana',
  'note',
  'plaintext',
];
for (const text of fs.readFileSync(file, 'utf8').split('\n')) {
  if (text === '' || text.startsWith('#')) {
    console.log(text);
    continue;
  }
  const env = parseEnvelope(text, ctx);
  if (!env || !dialect.claims(env.program)) {
    console.log('# outcome: foreign');
  } else {
    const r = interpret(env);
    if (r === MALFORMED) console.log('# outcome: malformed');
    else
      for (const o of r ?? []) {
        const a = {};
        for (const k of KEEP)
          if (o[k] !== undefined)
            a[k === 'kind' && o[k] === 'handshake' ? 'kind' : k] = k === 'kind' && o[k] === 'handshake' ? 'tls' : o[k];
        console.log(`# line: ${JSON.stringify(a)}`);
      }
  }
  console.log(text);
}
