// tlscensus as a library: each stage of the flow is usable on its own (DESIGN.md §2).
//
//   import { census, resolveInputs, buildReport } from 'tlscensus';
//   const { view, diagnostics } = await census(resolveInputs(['/var/log/mail.log']), { filter: { direction: 'inbound' } });
//   const report = buildReport(view, diagnostics, { sinceMs: null, untilMs: null });

export {
  addSession,
  type CensusView,
  type DirectionView,
  emptyView,
  mergeViews,
  type PeerStats,
  type SpreadRow,
  type Totals,
} from './aggregate/census-view.js';
export { type CensusOptions, type CensusResult, census, type Diagnostics } from './census/census.js';
export { CensusEngine } from './census/engine.js';
export { compileFilter, type SessionFilter } from './census/session-filter.js';
export {
  type CipherSuite,
  isLegacyProtocol,
  lookupCipher,
  lookupCipherFor,
  normaliseProtocol,
  rateHandshake,
} from './ciphers/lookup.js';
export { Correlator } from './correlate/correlator.js';
export type { Dialect, Interpreter } from './dialects/dialect.js';
export { DIALECTS } from './dialects/registry.js';
export { parseEnvelope } from './envelope/parse-envelope.js';
export { HistoryRecorder } from './history/history-recorder.js';
export { HistoryStore } from './history/history-store.js';
export { HourBuckets } from './history/hour-buckets.js';
export { buildTrend, TREND_SCHEMA, type TrendData } from './history/trend.js';
export { CensusError, EXIT } from './model/errors.js';
export type * from './model/types.js';
export { AUDIT_SCHEMA, auditMainCf, type Finding } from './policy/audit.js';
export { type Proposal, proposalText, proposePolicy } from './policy/audit-proposal.js';
export { type MainCf, parseMainCf, resolveParameter } from './policy/main-cf.js';
export { evaluateOpensslCipherString } from './policy/openssl-cipher-string.js';
export { derivePostfixTlsPolicies } from './policy/postfix-tls-policy.js';
export {
  evaluateWhatIf,
  type PeerVerdict,
  summarizeCommonPolicies,
  type Verdict,
  WHATIF_SCHEMA,
  type WhatIfResult,
} from './policy/whatif.js';
export {
  POLICY_PRESETS,
  policyFromFlags,
  policyFromMainCf,
  presetPolicy,
  type WhatIfPolicy,
} from './policy/whatif-policy.js';
export { REPORT_FORMATS, type Rendered, renderedText } from './render/render-report.js';
export { buildReport, REPORT_SCHEMA, type ReportData } from './render/report-model.js';
export { readLines } from './sources/read-lines.js';
export { type InputSpec, resolveInputs } from './sources/resolve-inputs.js';
