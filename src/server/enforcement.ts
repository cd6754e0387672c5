// Enforcement per namespace (SPEC §11). The webhook configurations send
// namespaces labelled `canary-webhook/enforcement: warn` to `<path>/warn`
// (two entries per webhook, split by namespaceSelector), so the mode is in
// the path and no review reads the Namespace.
import { warningLine } from '../rules/text.js';
import type { AdmissionVerdict } from './admission.js';

export type Enforcement = 'enforce' | 'warn';

/** Appended to every admission path: `/mutate` → `/mutate/warn`. */
export const warnSuffix = '/warn';

/** kubectl prints every warning on its own line; a denial of 50 problems need not become 50 lines. */
const MAX_DENIAL_WARNINGS = 10;

/**
 * A denial turned into an admission with the denial's text as warnings, as
 * Kyverno's Audit mode does. A patch that came with the denial (the mutating
 * side's, when only the subset write failed) is kept, so the object is
 * admitted as it would have been with the write succeeding.
 */
export function warnInstead(verdict: AdmissionVerdict): AdmissionVerdict {
  if (verdict.allowed) return verdict;
  const lines = (verdict.message ?? 'denied').split('\n').filter((line) => line.trim() !== '');
  const shown = lines.slice(0, MAX_DENIAL_WARNINGS).map((line) => warningLine(`would be denied: ${line}`));
  const rest = lines.length - shown.length;
  if (rest > 0) shown.push(`would be denied: ... and ${rest} more`);
  return { allowed: true, patch: verdict.patch, warnings: [...shown, ...(verdict.warnings ?? [])] };
}
