// The policy `tlscensus audit` proposes from the logs: for each knob, the tightest value that keeps the number of
// peers it breaks (verdict loses-tls or refused, what-if of whatif.ts) within --max-broken, printed as a ready
// main.cf block with the what-if impact of each line beside it.
//
// Knobs, tightened in this order with a shared budget (greedy): the four protocol floors (smtpd, smtpd mandatory,
// smtp, smtp mandatory), then the four exclusion lists. Floors stop at TLSv1.2: a TLS 1.3-only MX would refuse
// peers this log window happens not to show. Cipher grades stay `medium` (postconf(5): insisting on "high" is
// "generally counter-productive") and exclusions do the tightening: RC4 and 3DES, then every SHA-1 suite (which
// leaves TLS 1.2 suites only), then everything but AEAD suites. Security levels: `may` (RFC 3207 forbids requiring
// TLS on a public MX), or the `dane` the admin already has outbound. Peers the loosest values break already (a
// `medium` list has no export or single-DES suite) are the baseline and do not count against the budget.

import type { CensusView } from '../aggregate/census-view.js';
import type { Finding } from './audit.js';
import { type MainCf, parseMainCf, resolveParameter } from './main-cf.js';
import type { MasterCf } from './master-cf.js';
import { evaluateWhatIf, type PeerVerdict } from './whatif.js';
import { type LibraryModel, policyFromMainCf } from './whatif-policy.js';

/**
 * Never SSLv3: RFC 7568 forbids it, audit's own lint flags it (`protocols-sslv3`), and OpenSSL 3.0 has none (a
 * review saw `>=SSLv3` proposed): peers that only speak it are the baseline, listed as without TLS anyway.
 */
export const PROTOCOL_STEPS = ['>=TLSv1.2', '>=TLSv1.1', '>=TLSv1'] as const;
export const EXCLUDE_STEPS = ['RC4, 3DES, SHA1, SHA256, SHA384', 'RC4, 3DES, SHA1', 'RC4, 3DES', ''] as const;

interface Knob {
  readonly parameter: string;
  readonly steps: readonly string[];
}

const KNOBS: readonly Knob[] = [
  { parameter: 'smtpd_tls_protocols', steps: PROTOCOL_STEPS },
  { parameter: 'smtpd_tls_mandatory_protocols', steps: PROTOCOL_STEPS },
  { parameter: 'smtp_tls_protocols', steps: PROTOCOL_STEPS },
  { parameter: 'smtp_tls_mandatory_protocols', steps: PROTOCOL_STEPS },
  { parameter: 'smtpd_tls_exclude_ciphers', steps: EXCLUDE_STEPS },
  { parameter: 'smtpd_tls_mandatory_exclude_ciphers', steps: EXCLUDE_STEPS },
  { parameter: 'smtp_tls_exclude_ciphers', steps: EXCLUDE_STEPS },
  { parameter: 'smtp_tls_mandatory_exclude_ciphers', steps: EXCLUDE_STEPS },
];

export interface Impact {
  /** Peers this setting would break beyond the baseline (loses-tls or refused), as `host[ip]`. */
  broken: string[];
  /** Peers it would downgrade beyond the baseline. */
  downgraded: string[];
}

export interface LineImpact extends Impact {
  /** The next tighter value and what it would break, when this is not the tightest. */
  tighter: { value: string; broken: string[] } | null;
}

export interface ProposalLine {
  parameter: string;
  value: string;
  /** Null for lines that change no peer's TLS (levels, log levels, grades). */
  impact: LineImpact | null;
  note: string | null;
}

export interface Proposal {
  maxBroken: number;
  library: LibraryModel;
  lines: ProposalLine[];
  /** Parameters to delete, with why (obsolete, overridden built-ins, ignored). */
  remove: { parameter: string; why: string }[];
  /** All lines together. */
  total: Impact;
  /** Peers that even the loosest values break (not counted against --max-broken). */
  baseline: string[];
  peers: { inbound: number; outbound: number };
}

export interface ProposalOptions {
  readonly maxBroken: number;
  readonly library: LibraryModel;
  readonly mandatoryServices?: readonly string[] | null;
  /** The services' -o overrides, which a change of main.cf leaves in force (whatif-policy.ts). */
  readonly masterCf?: MasterCf | null;
}

function tokens(value: string): string[] {
  return value.split(/[,\s]+/).filter((t) => t !== '');
}

function label(p: PeerVerdict): string {
  return `${p.peer.host ?? (p.peer.nameLogged === false ? '' : 'unknown')}[${p.peer.ip}]`;
}

function keyOf(p: PeerVerdict): string {
  return `${p.section}|${p.peer.ip}`;
}

/** Fixed lines: levels, grades, log levels. */
function fixedLines(current: MainCf): Map<string, string> {
  const smtpLevel = resolveParameter(current, 'smtp_tls_security_level').expanded.toLowerCase();
  return new Map([
    ['smtpd_tls_security_level', 'may'],
    ['smtp_tls_security_level', smtpLevel === 'dane' ? 'dane' : 'may'],
    ['smtpd_tls_ciphers', 'medium'],
    ['smtpd_tls_mandatory_ciphers', 'medium'],
    ['smtp_tls_ciphers', 'medium'],
    ['smtp_tls_mandatory_ciphers', 'medium'],
    ['smtpd_tls_loglevel', '1'],
    ['smtp_tls_loglevel', '1'],
  ]);
}

function loosest(): Map<string, string> {
  return new Map(KNOBS.map((k) => [k.parameter, k.steps.at(-1)!]));
}

const REMOVE_WHY: Record<string, string> = {
  'obsolete-parameter': 'obsolete since Postfix 2.3, the security level above replaces it',
  'cipherlist-overridden': "restores Postfix's built-in list (postconf(5): do not change it)",
  'ignored-parameter': 'ignored by Postfix 3.6 and later',
};

const NOTES: Record<string, string> = {
  smtpd_tls_security_level: 'opportunistic on port 25 (RFC 3207); require TLS per service in master.cf',
  smtp_tls_security_level: 'opportunistic outbound; mandatory TLS per destination via smtp_tls_policy_maps',
  smtpd_tls_ciphers: 'the default grade; exclusions below do the tightening',
  smtp_tls_ciphers: 'the default grade; exclusions below do the tightening',
  smtpd_tls_loglevel: 'logs each handshake: what tlscensus counts',
  smtp_tls_loglevel: 'logs each handshake: what tlscensus counts',
};

/** The tightest policy that breaks at most `maxBroken` peers of `view`, with each line's impact. */
export function proposePolicy(
  view: CensusView,
  current: MainCf,
  findings: readonly Finding[],
  options: ProposalOptions,
): Proposal {
  const fixed = fixedLines(current);
  const judge = (knobs: Map<string, string>) => {
    const text = [...fixed, ...knobs].map(([k, v]) => `${k} = ${v}`).join('\n');
    const policy = policyFromMainCf(parseMainCf(text, { source: 'proposal' }), {
      library: options.library,
      mandatoryServices: options.mandatoryServices ?? null,
      sections: ['inbound', 'outbound'],
      masterCf: options.masterCf ?? null,
    });
    return evaluateWhatIf(view, policy).peers;
  };
  const baselinePeers = judge(loosest());
  const baselineBroken = new Set(
    baselinePeers.filter((p) => p.verdict === 'loses-tls' || p.verdict === 'refused').map(keyOf),
  );
  const baselineDowngraded = new Set(baselinePeers.filter((p) => p.verdict === 'downgraded').map(keyOf));
  const impactOf = (peers: PeerVerdict[]): Impact => ({
    broken: peers
      .filter((p) => (p.verdict === 'loses-tls' || p.verdict === 'refused') && !baselineBroken.has(keyOf(p)))
      .map(label),
    downgraded: peers.filter((p) => p.verdict === 'downgraded' && !baselineDowngraded.has(keyOf(p))).map(label),
  });

  // A side with no peers in the logs is not fitted: every value would "break 0 peers" there (a review: smtp_tls_*
  // was tightened to the end on a log with no outbound session). Its knobs stay out of the proposal.
  const fitted = (knob: Knob) => (knob.parameter.startsWith('smtpd_') ? view.inbound : view.outbound).peers.size > 0;
  // Greedy: tighten knob by knob while the whole policy stays within the budget.
  const chosen = loosest();
  for (const knob of KNOBS) {
    if (!fitted(knob)) continue;
    for (const step of knob.steps) {
      const trial = new Map(chosen).set(knob.parameter, step);
      if (impactOf(judge(trial)).broken.length <= options.maxBroken) {
        chosen.set(knob.parameter, step);
        break;
      }
    }
  }

  const stepOf = new Map(chosen);
  // A mandatory exclusion list adds to the general one (postconf(5)): name only what the general one lacks.
  for (const daemon of ['smtpd', 'smtp']) {
    const general = new Set(tokens(chosen.get(`${daemon}_tls_exclude_ciphers`)!));
    const key = `${daemon}_tls_mandatory_exclude_ciphers`;
    chosen.set(
      key,
      tokens(chosen.get(key)!)
        .filter((t) => !general.has(t))
        .join(', '),
    );
  }

  const lines: ProposalLine[] = [];
  for (const [parameter, value] of fixed) {
    lines.push({ parameter, value, impact: null, note: NOTES[parameter] ?? null });
  }
  for (const knob of KNOBS) {
    if (!fitted(knob)) continue;
    const value = chosen.get(knob.parameter)!;
    const alone = impactOf(judge(new Map(loosest()).set(knob.parameter, value)));
    const step = stepOf.get(knob.parameter)!;
    const index = knob.steps.indexOf(step);
    // A mandatory list that only repeats the general one has no tighter step of its own to show.
    const tighterValue = index > 0 && step === value ? knob.steps[index - 1]! : null;
    const tighter =
      tighterValue === null
        ? null
        : { value: tighterValue, broken: impactOf(judge(new Map(loosest()).set(knob.parameter, tighterValue))).broken };
    lines.push({ parameter: knob.parameter, value, impact: { ...alone, tighter }, note: null });
  }
  const remove = findings
    .filter((f) => REMOVE_WHY[f.id] !== undefined)
    .map((f) => ({ parameter: f.parameter, why: REMOVE_WHY[f.id]! }));
  const sections = { inbound: view.inbound.peers.size, outbound: view.outbound.peers.size };
  return {
    maxBroken: options.maxBroken,
    library: options.library,
    lines,
    remove: remove.filter((r, i) => remove.findIndex((x) => x.parameter === r.parameter) === i),
    total: impactOf(judge(chosen)),
    baseline: baselinePeers.filter((p) => baselineBroken.has(keyOf(p))).map(label),
    peers: sections,
  };
}

function peersText(list: readonly string[], max = 3): string {
  const shown = list.slice(0, max).join(', ');
  return list.length > max ? `${shown}, … (${list.length - max} more)` : shown;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * The proposal as a main.cf block. Each line's impact is a comment on the line above it: Postfix reads a '#' after
 * a value as part of the value (postconf(5)), so nothing may follow a setting on its own line. `esc` escapes peer
 * names for the medium.
 */
export function proposalText(p: Proposal, window: string, esc: (s: string) => string): string {
  const out: string[] = [];
  out.push(
    `# Proposed by tlscensus audit: the tightest TLS policy that breaks at most ${plural(p.maxBroken, 'peer')} seen in`,
    `# ${window} (${p.peers.inbound} inbound, ${p.peers.outbound} outbound peers; OpenSSL model: ${p.library}).`,
    "# Above each setting: that setting's own impact on those peers.",
  );
  for (const line of p.lines) {
    if (line.impact !== null) {
      const tighter = line.impact.tighter;
      const alt = tighter
        ? ` (${tighter.value || 'empty'} would break ${plural(tighter.broken.length, 'peer')}${tighter.broken.length > 0 ? `: ${esc(peersText(tighter.broken))}` : ''})`
        : '';
      const breaks = line.impact.broken.length > 0 ? ` (${esc(peersText(line.impact.broken))})` : '';
      out.push(
        `# would break: ${plural(line.impact.broken.length, 'peer')}${breaks}; downgrades ${line.impact.downgraded.length}${alt}`,
      );
    } else if (line.note) {
      out.push(`# ${line.note}`);
    }
    out.push(`${line.parameter} = ${line.value}`.trimEnd());
  }
  for (const [side, count, daemon] of [
    ['inbound', p.peers.inbound, 'smtpd'],
    ['outbound', p.peers.outbound, 'smtp'],
  ] as const) {
    if (count === 0) {
      out.push(
        `# no ${side} peers in the logs: ${daemon}_tls_*protocols and ${daemon}_tls_*exclude_ciphers are not fitted`,
      );
    }
  }
  for (const r of p.remove) out.push(`# remove ${r.parameter}: ${r.why}`);
  out.push(
    `# all together: would break ${plural(p.total.broken.length, 'peer')}${p.total.broken.length > 0 ? ` (${esc(peersText(p.total.broken))})` : ''}; downgrades ${p.total.downgraded.length}`,
  );
  if (p.baseline.length > 0) {
    out.push(
      `# already without TLS under any of these values (SSLv3 only, or suites none of them allows): ${esc(peersText(p.baseline))}`,
    );
  }
  return `${out.join('\n')}\n`;
}
