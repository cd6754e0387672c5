// Kubernetes and Istio naming rules (SPEC §2): which strings may be a label
// value, and how a version becomes an Istio subset name.

export const MAX_LABEL_CHARS = 63;

// Label values: alphanumerics plus `-_.`, alphanumeric at both ends
// (k8s.io/apimachinery validation.IsValidLabelValue, minus the empty value,
// which cannot name a version).
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
// Istio validates subset names as DNS-1123 labels.
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isValidLabelValue(v: string): boolean {
  return v.length <= MAX_LABEL_CHARS && LABEL_VALUE.test(v);
}

export function isDns1123Label(v: string): boolean {
  return v.length <= MAX_LABEL_CHARS && DNS1123_LABEL.test(v);
}

/**
 * The subset name for a version: the version itself when Istio accepts it,
 * otherwise lower-cased with every other character turned into `-` and the
 * ends trimmed (`1.2.3` → `1-2-3`, `V2_beta` → `v2-beta`). Distinct versions
 * can share a name (`v2`, `V2`); the subset planner warns when they collide.
 */
export function toSubsetName(version: string): string {
  if (isDns1123Label(version)) return version;
  const dashed = version.toLowerCase().replace(/[^a-z0-9]/g, '-').replace(/^-+/, '');
  // Trim after cutting so a cut never leaves a trailing `-`.
  return dashed.slice(0, MAX_LABEL_CHARS).replace(/-+$/, '');
}
