// Whole reports compared byte for byte (DESIGN.md §6). Inputs: the real-daemon Postfix corpus and a log of
// hostile names (terminal escapes, HTML, spreadsheet formulas, pipes). Regenerate after an intended change
// with `UPDATE_GOLDEN=1 npm test`, then read the diff before committing it.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { census } from '../../src/census/census.js';
import { REPORT_FORMATS, renderedText } from '../../src/render/render-report.js';
import { buildReport } from '../../src/render/report-model.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { fixturePath } from '../helpers/paths.js';

const CASES = {
  'postfix-corpus': [fixturePath('corpus/postfix/maillog')],
  hostile: [fixturePath('golden/hostile.log')],
};
const EXT: Record<string, string> = { table: 'txt', json: 'json', csv: 'csv', md: 'md', html: 'html', prom: 'prom' };

describe('golden reports', () => {
  for (const [name, inputs] of Object.entries(CASES)) {
    for (const format of Object.keys(EXT)) {
      it(`${name} as ${format}`, async () => {
        const r = await census(resolveInputs(inputs), { year: 2026, timezone: 'UTC' });
        const report = buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs: null });
        report.sources = report.sources.map((s) => ({ ...s, path: path.basename(s.path) }));
        report.malformedSamples = report.malformedSamples.map((s) => ({ ...s, source: path.basename(s.source) }));
        const render = REPORT_FORMATS[format];
        assert.ok(render, `format ${format} exists`);
        const text = renderedText(await render(report, { color: false, top: 20 }));
        const file = fixturePath('golden', `${name}.${EXT[format]}`);
        if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(file, text);
        assert.equal(text, fs.readFileSync(file, 'utf8'));
      });
    }
  }

  it('never lets log text reach a terminal, CSV or Markdown raw', () => {
    const table = fs.readFileSync(fixturePath('golden', 'hostile.txt'), 'utf8');
    assert.ok(!table.includes('\x1b'), 'no raw ESC in the table');
    const csv = fs.readFileSync(fixturePath('golden', 'hostile.csv'), 'utf8');
    assert.ok(csv.includes(`"'=HYPERLINK(""http://x"")\\x1b[31m"`), 'formula neutralised and quoted');
    const md = fs.readFileSync(fixturePath('golden', 'hostile.md'), 'utf8');
    assert.ok(!md.includes('<script>') && !md.includes('<img'), 'no raw HTML in Markdown');
    assert.ok(md.includes('x\\|y'), 'pipes escaped in Markdown cells');
    // Invisible characters that make a name look like another (review): shown, in every format.
    for (const ext of ['txt', 'csv', 'md', 'html', 'json', 'prom']) {
      const text = fs.readFileSync(fixturePath('golden', `hostile.${ext}`), 'utf8');
      if (ext === 'json') continue; // (JSON keeps the text as it is, escaped by JSON itself where it must be)
      assert.ok(!/[\u200b\u2060\u00ad\ufeff\u2028]/.test(text), `no invisible character raw in .${ext}`);
    }
  });
});
