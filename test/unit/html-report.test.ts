// The HTML report (`--format html`): log text is escaped wherever it appears (hosts, addresses, failure details,
// malformed samples, source paths), the page has a strict CSP whose hash matches its only stylesheet, carries no
// script and fetches nothing, and draws its chart as SVG.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { addSession, emptyView } from '../../src/aggregate/census-view.js';
import { census } from '../../src/census/census.js';
import { renderHtml } from '../../src/render/html.js';
import { html } from '../../src/render/html-escape.js';
import { buildReport, type ReportData } from '../../src/render/report-model.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { fixturePath } from '../helpers/paths.js';
import { reportOfView } from '../helpers/view-report.js';

async function hostileReport(): Promise<{ page: string; report: ReportData }> {
  // A source path is log-derived too (a file name chosen by whoever can write the directory).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-html-'));
  const file = path.join(dir, '<b onmouseover=alert(5)>mail.log');
  fs.copyFileSync(fixturePath('golden/hostile.log'), file);
  const r = await census(resolveInputs([file]), { year: 2026, timezone: 'UTC', maxSamples: 20 });
  const report = buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs: null });
  fs.rmSync(dir, { recursive: true, force: true });
  return { page: renderHtml(report, { top: 50 }), report };
}

const ALLOWED_TAGS = new Set(
  'html head meta title style body main header h1 h2 h3 p strong section div span svg g rect line text figure figcaption ul li table thead tbody tr th td br dl dt dd footer'.split(
    ' ',
  ),
);

describe('html report', () => {
  it('escapes every piece of log text: only tags the renderer writes appear', async () => {
    const { page } = await hostileReport();
    const tags = new Set([...page.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9-]*)/g)].map((m) => m[1]!.toLowerCase()));
    const unexpected = [...tags].filter((t) => !ALLOWED_TAGS.has(t));
    assert.deepEqual(unexpected, [], `unexpected tags: ${unexpected.join(', ')}`);
    assert.ok(!/<[^>]*\son[a-z]+\s*=/i.test(page), 'no event-handler attribute inside any tag');
    assert.ok(!page.includes('\x1b'), 'no raw ESC');
    assert.ok(!page.includes('\x07'), 'no raw BEL');
  });

  it('shows the hostile strings as text in each place they occur', async () => {
    const { page } = await hostileReport();
    // a plaintext peer's host
    assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    // a host in a TLS line (legacy TLS 1.1 peer)
    assert.ok(page.includes('&quot;&gt;&lt;img/src=x/onerror=alert(2)&gt;.evil.example'));
    // a failing peer's host with terminal escapes, and its failure detail
    assert.ok(page.includes('&lt;svg/onload=alert(3)&gt;\\x1b'));
    assert.ok(page.includes('no shared cipher &lt;script&gt;alert(4)&lt;/script&gt;\\x1b[31m'));
    // a spreadsheet formula host
    assert.ok(page.includes('=HYPERLINK(&quot;http://x&quot;)\\x1b[31m'));
    // the source path and the malformed sample
    assert.ok(page.includes('&lt;b onmouseover=alert(5)&gt;mail.log'));
    assert.ok(page.includes('broken[198.51.100.70'));
  });

  it('has a strict CSP that allows exactly its stylesheet and no script', async () => {
    const { page } = await hostileReport();
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(page)?.[1];
    assert.ok(csp, 'CSP meta present');
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|script-src/);
    const style = /<style>([\s\S]*?)<\/style>/.exec(page)?.[1] ?? '';
    const hash = createHash('sha256').update(style, 'utf8').digest('base64');
    assert.ok(csp.includes(`style-src 'sha256-${hash}'`), 'the style hash matches the stylesheet');
    assert.equal((page.match(/<style>/g) ?? []).length, 1);
    assert.ok(!/\sstyle=/.test(page), 'no style attribute (the CSP would block it)');
    assert.ok(page.includes('<meta name="viewport"'), 'phone-ready');
    assert.ok(page.includes('@media print'), 'printable');
  });

  it('fetches nothing: no URL in any attribute, no url() or @import in the stylesheet', async () => {
    const { page } = await hostileReport();
    assert.ok(!/\s(src|href|action|srcset|poster|data|xlink:href|formaction)\s*=/i.test(page), 'no URL attribute');
    assert.ok(!/url\(|@import/i.test(page));
    const attrs = [...page.matchAll(/<[^>]+>/g)].map((m) => m[0]);
    assert.ok(!attrs.some((t) => /https?:\/\//.test(t)), 'no http(s):// inside a tag');
  });

  it('draws a stacked SVG chart per direction with sessions', async () => {
    const { page, report } = await hostileReport();
    assert.equal(report.timeline.bucket, 'hour');
    assert.ok(report.timeline.points.length >= 1);
    const charts = page.match(/<svg class="chart"[\s\S]*?<\/svg>/g) ?? [];
    assert.equal(charts.length, 1, 'inbound only: the log has no outbound session');
    assert.ok((charts[0]!.match(/<rect /g) ?? []).length >= 3);
  });

  it('lists only the days with sessions when stray lines from wrong clocks span millennia', async () => {
    // test/fixtures/bad/wrong-clock.log: sessions dated 1970, 2026 and 9999. Every day in between was 2.9 million
    // timeline points, 384 MB of JSON and 1.9 GiB of memory.
    const r = await census(resolveInputs([fixturePath('bad/wrong-clock.log')]), { timezone: 'UTC' });
    const report = buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs: null });
    assert.equal(report.timeline.bucket, 'day');
    assert.equal(report.timeline.sparse, true);
    assert.deepEqual(
      report.timeline.points.map((p) => p.start.slice(0, 10)),
      ['1970-01-02', '2026-11-20', '9999-12-31'],
    );
    assert.match(renderHtml(report, { top: 10 }), /Only days with sessions are shown/);
  });

  it('shows in "What if…" the peers that cannot be judged, as every whatif output does (review)', () => {
    // One client seen on TLS 1.3, one whose protocol the log does not say (smtpd_tls_loglevel 0: `starttls=1`).
    const v = emptyView();
    const t0 = Date.UTC(2026, 10, 20, 10);
    for (const [i, protocol] of (['TLSv1.3', 'unknown', 'unknown'] as const).entries()) {
      addSession(v, {
        mta: 'postfix',
        service: 'smtpd',
        direction: 'inbound',
        peer: {
          host: protocol === 'unknown' ? 'quiet.example' : 'modern.example',
          ip: `192.0.2.${protocol === 'unknown' ? 9 : 1}`,
        },
        startMs: t0 + i * 1000,
        endMs: null,
        outcome: 'tls',
        handshake: {
          protocol,
          cipher: protocol === 'unknown' ? '' : 'TLS_AES_256_GCM_SHA384',
          bits: null,
          trust: null,
        },
        failure: null,
        messages: 1,
      });
    }
    const report = reportOfView(v, { whatIf: true });
    const page = renderHtml(report, { top: 10 });
    const block = page.slice(page.indexOf('<h3>Minimum TLS 1.2'));
    const table = block.slice(0, block.indexOf('</table>'));
    const headers = [...table.matchAll(/<th class="n">([^<]*)<\/th>/g)].map((m) => m[1]);
    assert.deepEqual(headers, ['would lose TLS', 'would be refused', 'downgraded', 'cannot be judged', 'unaffected']);
    const cells = [...table.matchAll(/<td class="n">(.*?)<\/td>/g)].map((m) => m[1]);
    assert.deepEqual(cells, ['–', '–', '–', '1 peer<br>2 sessions<br>2 messages', '1 peer<br>1 session<br>1 message']);
    // … and the peer itself, with the reasoning, where no affected peer takes its place.
    assert.match(block, /<span class="badge r-unknown">undetermined<\/span>[\s\S]*?quiet\.example/);
  });

  it('escapes values in the html template and passes its own markup through', () => {
    const inner = html`<b>${'<i>'}</b>`;
    assert.equal(html`<p>${inner}${'&'}${null}${['<', html`<br>`]}</p>`.text, '<p><b>&lt;i&gt;</b>&amp;&lt;<br></p>');
  });
});
