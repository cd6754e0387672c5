// Istio's merge of DestinationRules that share a namespace and a resolved
// host (SPEC §2, §4), mirrored from Istio's control plane so that a subset
// counts exactly when Istio would use it:
//  - pilot/pkg/model/push_context.go `setDestinationRules`: rules sorted by
//    `sortConfigBySelectorAndCreationTime` (workloadSelector first, then
//    creation time, name, namespace); a rule's exportTo set is its exportTo as
//    written, or {"."} when it has a workloadSelector;
//  - pilot/pkg/model/destination_rule.go `mergeDestinationRule`, with
//    ENABLE_ENHANCED_DESTINATIONRULE_MERGE on (its default): a rule merges
//    into an earlier one only when their exportTo sets are equal (or its set
//    is a superset of a non-empty one: then it merges and also stands alone),
//    and not when both have workloadSelectors that differ; subsets are
//    concatenated, the first definition of a name wins; the first top-level
//    trafficPolicy wins;
//  - pilot/pkg/model/sidecar.go `SidecarScope.DestinationRule`: a proxy uses
//    the merged rule whose workloadSelector selects it, else the last one
//    without a workloadSelector (the catch-all).
// Pure, and linear in the rules and subsets given.
import type { DestinationRule } from './types.js';

export interface MergedSubset {
  /** The rule whose definition of the name won. */
  rule: DestinationRule;
  labels: Record<string, string> | undefined;
}

/** One of Istio's ConsolidatedDestRules: a rule with every rule merged into it. */
export interface ConsolidatedRule {
  /** The rules merged, first one first (Istio's `from`). */
  from: DestinationRule[];
  exportTo: ReadonlySet<string>;
  /** `spec.workloadSelector.matchLabels` of the first rule; undefined when it has no selector. */
  selector: Record<string, string> | undefined;
  subsets: Map<string, MergedSubset>;
  trafficPolicy: unknown;
}

/**
 * Istio's merge of `rules`, which the caller has already narrowed to one
 * namespace and one resolved host. Inputs are not modified.
 */
export function consolidate(rules: readonly DestinationRule[]): ConsolidatedRule[] {
  const merged: ConsolidatedRule[] = [];
  for (const rule of [...rules].sort(istioOrder)) {
    const exportTo = exportToSetOf(rule);
    const selector = selectorOf(rule);
    let appendSeparately = true;
    for (const existing of merged) {
      if (sameSet(exportTo, existing.exportTo)) appendSeparately = false;
      else if (existing.exportTo.size > 0 && isSuperset(exportTo, existing.exportTo)) appendSeparately = true;
      else {
        appendSeparately = true;
        continue;
      }
      const bothWithout = selector === undefined && existing.selector === undefined;
      const bothWith = selector !== undefined && existing.selector !== undefined;
      const selectorsMatch = bothWith && sameLabels(selector, existing.selector!);
      if (bothWith && !selectorsMatch) {
        appendSeparately = true;
        continue;
      }
      if (bothWithout || selectorsMatch) appendSeparately = false;
      existing.from.push(rule);
      addSubsets(existing.subsets, rule);
      if (existing.trafficPolicy === undefined) existing.trafficPolicy = trafficPolicyOf(rule);
    }
    if (merged.length === 0 || appendSeparately) {
      const subsets = new Map<string, MergedSubset>();
      addSubsets(subsets, rule);
      merged.push({ from: [rule], exportTo, selector, subsets, trafficPolicy: trafficPolicyOf(rule) });
    }
  }
  return merged;
}

/**
 * The merged rule a proxy no workloadSelector picks uses: the webhook cannot
 * know which workloads send the traffic, so this is the one that decides
 * whether a VirtualService's subset exists.
 */
export function catchAll(consolidated: readonly ConsolidatedRule[]): ConsolidatedRule | undefined {
  let found: ConsolidatedRule | undefined;
  for (const entry of consolidated) if (entry.selector === undefined) found = entry;
  return found;
}

/** Subsets a proxy sees for same-host rules of one namespace (first definition of a name wins). */
export function appliedSubsets(rules: readonly DestinationRule[]): Map<string, MergedSubset> {
  return catchAll(consolidate(rules))?.subsets ?? new Map();
}

/**
 * Why a rule of the same namespace and host that defines `subset` is not part
 * of the merged rule Istio applies: the part of a denial people cannot guess.
 */
export function separateRuleHint(rules: readonly DestinationRule[], subset: string, describe: (rule: DestinationRule) => string): string | undefined {
  const consolidated = consolidate(rules);
  const applied = catchAll(consolidated);
  const inApplied = new Set(applied?.from ?? []);
  const other = rules.find((rule) => !inApplied.has(rule) && subsetNames(rule).includes(subset));
  if (!other) return undefined;
  const name = `DestinationRule ${describe(other)} defines it but Istio does not merge it`;
  if (selectorOf(other) !== undefined) return `${name}: it has a workloadSelector, so it applies only to the workloads it selects`;
  if (!applied) return `${name}: no rule without a workloadSelector applies`;
  const base = applied.from[0]!;
  if (!sameSet(exportToSetOf(other), applied.exportTo)) {
    return `${name} with ${describe(base)}: their exportTo differ (${showSet(exportToSetOf(other))} vs ${showSet(applied.exportTo)})`;
  }
  return `${name} with ${describe(base)}`;
}

/** Istio's exportTo set of a rule: as written, or {"."} for a rule with a workloadSelector. */
export function exportToSetOf(rule: DestinationRule): ReadonlySet<string> {
  if (selectorOf(rule) !== undefined) return new Set(['.']);
  const exportTo: unknown = rule.spec?.exportTo;
  return new Set(Array.isArray(exportTo) ? exportTo.filter((e): e is string => typeof e === 'string') : []);
}

export function hasWorkloadSelector(rule: DestinationRule): boolean {
  return selectorOf(rule) !== undefined;
}

export function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((item) => b.has(item));
}

function isSuperset(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return [...b].every((item) => a.has(item));
}

function showSet(set: ReadonlySet<string>): string {
  return set.size === 0 ? '(none)' : `[${[...set].map((item) => JSON.stringify(item.slice(0, 63))).join(', ')}]`;
}

function selectorOf(rule: DestinationRule): Record<string, string> | undefined {
  const selector: unknown = rule.spec?.workloadSelector;
  if (typeof selector !== 'object' || selector === null) return undefined;
  const labels: unknown = (selector as { matchLabels?: unknown }).matchLabels;
  return typeof labels === 'object' && labels !== null && !Array.isArray(labels) ? (labels as Record<string, string>) : {};
}

/** labels.Instance.Equals: same keys, same values. */
function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}

function trafficPolicyOf(rule: DestinationRule): unknown {
  const policy: unknown = rule.spec?.trafficPolicy;
  return policy === null ? undefined : policy;
}

function addSubsets(into: Map<string, MergedSubset>, rule: DestinationRule): void {
  const list: unknown = rule.spec?.subsets;
  for (const subset of Array.isArray(list) ? list : []) {
    if (typeof subset !== 'object' || subset === null) continue;
    const { name, labels } = subset as { name?: unknown; labels?: Record<string, string> };
    if (typeof name === 'string' && name !== '' && !into.has(name)) into.set(name, { rule, labels });
  }
}

function subsetNames(rule: DestinationRule): string[] {
  const list: unknown = rule.spec?.subsets;
  return Array.isArray(list) ? list.map((s: unknown) => (s as { name?: unknown } | null)?.name).filter((n): n is string => typeof n === 'string') : [];
}

/** pilot's sortConfigBySelectorAndCreationTime. A missing timestamp sorts first, as Go's zero time does. */
export function istioOrder(a: DestinationRule, b: DestinationRule): number {
  const sa = selectorOf(a) !== undefined;
  const sb = selectorOf(b) !== undefined;
  if (sa !== sb) return sa ? -1 : 1;
  const ta = timeOf(a);
  const tb = timeOf(b);
  if (ta !== tb) return ta - tb;
  const na = String(a.metadata?.name ?? '');
  const nb = String(b.metadata?.name ?? '');
  if (na !== nb) return na < nb ? -1 : 1;
  const sa2 = String(a.metadata?.namespace ?? '');
  const sb2 = String(b.metadata?.namespace ?? '');
  return sa2 < sb2 ? -1 : sa2 > sb2 ? 1 : 0;
}

function timeOf(rule: DestinationRule): number {
  const stamp: unknown = rule.metadata?.creationTimestamp;
  const ms = typeof stamp === 'string' ? Date.parse(stamp) : Number.NaN;
  return Number.isNaN(ms) ? 0 : ms;
}
