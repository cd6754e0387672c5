// What the DestinationRule side must do so a canary Deployment's subset
// exists (SPEC §2 "The DestinationRule subset"). Pure: the store executes it.
//
// Placement (`--subset-placement=companion`, the default): among the rules of
// the Deployment's namespace whose host resolves to the service's host, take
// the ones Istio merges into the rule it applies (src/rules/merge.ts):
//  - none → create `<service>`;
//  - a managed one among them → append there;
//  - only user-owned ones → create or append to `<service>-canary-webhook`
//    with the user rule's exportTo copied exactly, so Istio merges the two.
//    The user's object is never written.
// `append` keeps the old behaviour: append to the oldest same-host rule.
//
// Cost: the planner looks only at the rules of this host (and the wildcards
// covering it) that the caller's host index hands over, never at the whole
// namespace, so a review costs the same with 10 or 10,000 rules around.
import { getPath, isJsonObject } from './discovery.js';
import { hostMatches, matchingPatterns, resolveHost, isVisibleTo } from './hosts.js';
import { catchAll, consolidate, exportToSetOf, hasWorkloadSelector, istioOrder, sameSet, type ConsolidatedRule, type MergedSubset } from './merge.js';
import { clip, quote } from './text.js';
import type { DestinationRule, RuleSettings, Subset, SubsetPlan, SubsetRequest } from './types.js';

/** What the planner reads: from a host index (stores) or from a plain list (tests, offline input). */
export interface PlanInput {
  /** Rules, in any namespace, whose resolved host is the request's host or a wildcard covering it. */
  candidates: readonly DestinationRule[];
  /** Does the request's namespace hold a rule of this name, whatever its host? */
  isNameTaken(name: string): boolean;
}

/** A rule whose metadata can be read; anything else in the input is ignored. */
interface Candidate {
  rule: DestinationRule;
  name: string;
  namespace: string;
  /** Resolved `spec.host`; undefined when the rule has none. */
  host: string | undefined;
}

export const companionSuffix = '-canary-webhook';

export function planSubset(request: SubsetRequest, input: readonly DestinationRule[] | PlanInput, settings: RuleSettings): SubsetPlan {
  const host = request.host.toLowerCase();
  const list = isPlanInput(input) ? input.candidates : input;
  // Offline input often leaves metadata.namespace empty, like kubectl apply does.
  const all = list.flatMap((rule) => toCandidate(rule, request.namespace, settings));
  const taken = isPlanInput(input) ? (name: string) => input.isNameTaken(name) : namesIn(all, request.namespace);
  const relevant = all.filter((c) => c.host !== undefined && hostMatches(c.host, host));
  const local = relevant.filter((c) => c.namespace === request.namespace);
  const exact = local.filter((c) => c.host === host);
  if (settings.subsetPlacement === 'append') {
    return exact.length > 0 ? planExisting(request, exact.sort(byAge), settings) : planCreate(request, local, relevant, taken, settings);
  }
  const applied = catchAll(consolidate(exact.map((c) => c.rule)));
  if (!applied) return planCreate(request, local, relevant, taken, settings);
  return planPlacement(request, applied, exact, taken, settings);
}

function isPlanInput(input: readonly DestinationRule[] | PlanInput): input is PlanInput {
  return !Array.isArray(input);
}

function namesIn(all: readonly Candidate[], namespace: string): (name: string) => boolean {
  const names = new Set(all.filter((c) => c.namespace === namespace).map((c) => c.name));
  return (name) => names.has(name);
}

function toCandidate(rule: unknown, defaultNamespace: string, settings: RuleSettings): Candidate[] {
  const name = getPath(rule, 'metadata', 'name');
  if (!isJsonObject(rule) || typeof name !== 'string') return [];
  const declared = getPath(rule, 'metadata', 'namespace');
  const namespace = typeof declared === 'string' && declared !== '' ? declared : defaultNamespace;
  const host = getPath(rule, 'spec', 'host');
  return [{
    rule: rule as DestinationRule,
    name,
    namespace,
    host: typeof host === 'string' ? resolveHost(host, namespace, settings.clusterDomain) : undefined,
  }];
}

/** Istio's order for same-host rules: creation time, then name. A missing timestamp sorts first, as Go's zero time does. */
function byAge(a: Candidate, b: Candidate): number {
  const at = String(getPath(a.rule, 'metadata', 'creationTimestamp') ?? '');
  const bt = String(getPath(b.rule, 'metadata', 'creationTimestamp') ?? '');
  if (at !== bt) return at < bt ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function isManaged(rule: DestinationRule, settings: RuleSettings): boolean {
  return getPath(rule, 'metadata', 'labels', settings.managedByLabel) === settings.managedByValue;
}

/** SPEC §2 placement among the rules Istio merges into the one it applies. */
function planPlacement(request: SubsetRequest, applied: ConsolidatedRule, exact: Candidate[], taken: (name: string) => boolean, settings: RuleSettings): SubsetPlan {
  const companionName = `${request.service}${companionSuffix}`;
  // The user rules a companion must merge with (a workloadSelector rule never merges with one).
  const users = exact.map((c) => c.rule).filter((rule) => !isManaged(rule, settings) && !hasWorkloadSelector(rule)).sort(istioOrder);
  const base = users[0];
  const userNames = new Set(users.flatMap(subsetNamesOf));
  const companion = exact.find((c) => c.name === companionName && isManaged(c.rule, settings))?.rule;
  // A companion whose exportTo drifted from the user rule's (the rule was re-applied from Git
  // with another one) no longer merges: it is ours to bring back in line on its next write.
  const drifted = companion !== undefined && base !== undefined && !sameSet(exportToSetOf(companion), exportToSetOf(base));
  const existing = applied.subsets.get(request.subsetName) ?? (userNames.has(request.subsetName) ? definedIn(users, request.subsetName) : undefined);
  const warnings: string[] = [];
  if (existing) {
    if (!sameLabels(existing.labels, request.labels)) {
      warnings.push(`DestinationRule ${ref(existing.rule)} already has subset ${quote(request.subsetName, 16)} with other labels; left unchanged`);
    }
    // A user rule now defines what the companion holds: drop the companion's copies (SPEC §2).
    if (companion && base && (drifted || subsetNamesOf(companion).some((name) => userNames.has(name)))) {
      const kept = subsetsOf(companion).filter((s) => !userNames.has(nameOf(s)));
      if (kept.length === 0) return { action: 'delete', original: companion, warnings };
      const updated = withSubsets(companion, kept);
      copyExportTo(updated, base);
      return { action: 'append', original: companion, updated, warnings, present: true };
    }
    return { action: 'none', destinationRule: existing.rule, warnings };
  }
  const target = companion ?? applied.from.find((rule) => isManaged(rule, settings));
  if (target) {
    const subsets: unknown = target.spec?.subsets;
    if (subsets !== undefined && subsets !== null && !Array.isArray(subsets)) return notAList(target, request);
    // In the companion, a user rule's definition of a name always wins: keep only what no user rule defines.
    const kept = target === companion ? subsetsOf(target).filter((s) => !userNames.has(nameOf(s)) && nameOf(s) !== request.subsetName) : ((subsets ?? []) as Subset[]);
    const refused = overLimit(target, kept.length + 1, settings);
    if (refused) return refused;
    const updated = withSubsets(target, [...kept, newSubset(request)]);
    if (target === companion && base) copyExportTo(updated, base);
    return { action: 'append', original: target, updated, warnings };
  }
  if (!base) return { action: 'none', destinationRule: applied.from[0]!, warnings: [`no DestinationRule for ${clip(request.host, 80)} can take subset ${quote(request.subsetName, 16)}`] };
  const name = freeCompanionName(companionName, taken);
  const spec: DestinationRule['spec'] = { host: request.host };
  copyExportTo({ spec } as DestinationRule, base);
  spec.subsets = [newSubset(request)];
  return { action: 'create', destinationRule: managedRule(name, request, spec, settings), warnings };
}

function definedIn(rules: readonly DestinationRule[], name: string): MergedSubset | undefined {
  for (const rule of rules) {
    const subset = subsetsOf(rule).find((s) => nameOf(s) === name);
    if (subset) return { rule, labels: subset.labels };
  }
  return undefined;
}

/** The companion's exportTo must equal the user rule's, as written, or Istio keeps them apart. */
function copyExportTo(into: DestinationRule, user: DestinationRule): void {
  const exportTo: unknown = user.spec?.exportTo;
  if (Array.isArray(exportTo)) into.spec.exportTo = structuredClone(exportTo) as string[];
  else delete into.spec.exportTo;
}

function freeCompanionName(name: string, taken: (name: string) => boolean): string {
  if (!taken(name)) return name;
  for (let n = 2; ; n++) if (!taken(`${name}-${n}`)) return `${name}-${n}`;
}

function overLimit(target: DestinationRule, count: number, settings: RuleSettings): SubsetPlan | undefined {
  if (count <= settings.maxSubsets) return undefined;
  const name = clip(`${target.metadata.namespace}/${target.metadata.name}`, 127);
  return {
    action: 'refuse',
    warnings: [],
    reason:
      `DestinationRule ${name} already holds ${count - 1} subset${count === 2 ? '' : 's'}, the most the webhook keeps in one rule (--max-subsets=${settings.maxSubsets}); ` +
      `remove the subsets of versions no longer deployed (kubectl edit destinationrule -n ${clip(target.metadata.namespace, 63)} ${clip(target.metadata.name, 63)}) and apply again`,
  };
}

function planExisting(request: SubsetRequest, exact: Candidate[], settings: RuleSettings): SubsetPlan {
  for (const candidate of exact) {
    const subsets = getPath(candidate.rule, 'spec', 'subsets');
    const existing = Array.isArray(subsets)
      ? subsets.find((s: unknown) => getPath(s, 'name') === request.subsetName)
      : undefined;
    if (existing === undefined) continue;
    const warnings = sameLabels(getPath(existing, 'labels'), request.labels)
      ? []
      : [`DestinationRule ${ref(candidate.rule, candidate.namespace)} already has subset ${quote(request.subsetName, 16)} with other labels; left unchanged`];
    return { action: 'none', destinationRule: candidate.rule, warnings };
  }
  const [oldest] = exact as [Candidate, ...Candidate[]];
  const subsets = getPath(oldest.rule, 'spec', 'subsets');
  if (subsets !== undefined && subsets !== null && !Array.isArray(subsets)) return notAList(oldest.rule, request, oldest.namespace);
  // Entries are kept as they are, malformed ones included: this rule is not ours to tidy.
  const kept = (Array.isArray(subsets) ? subsets : []) as Subset[];
  const refused = overLimit(oldest.rule, kept.length + 1, settings);
  if (refused) return refused;
  return { action: 'append', original: oldest.rule, updated: withSubsets(oldest.rule, [...kept, newSubset(request)]), warnings: [] };
}

/** Replacing a malformed list would drop whatever the owner meant by it. */
function notAList(rule: DestinationRule, request: SubsetRequest, namespace?: string): SubsetPlan {
  return {
    action: 'none',
    destinationRule: rule,
    warnings: [`DestinationRule ${ref(rule, namespace)}: spec.subsets is not a list, so subset ${quote(request.subsetName, 16)} was not added`],
  };
}

function planCreate(request: SubsetRequest, local: Candidate[], all: Candidate[], taken: (name: string) => boolean, settings: RuleSettings): SubsetPlan {
  const name = freeName(request.service, taken);
  const spec: DestinationRule['spec'] = { host: request.host };
  const warnings: string[] = [];
  const wildcard = coveringWildcard(request, local, all, settings);
  const trafficPolicy = wildcard ? getPath(wildcard.rule, 'spec', 'trafficPolicy') : undefined;
  if (wildcard && isJsonObject(trafficPolicy)) {
    // Istio applies only the most specific rule for a host, without merging, so
    // the new rule would silently drop the wildcard's mTLS or load-balancing settings.
    spec.trafficPolicy = structuredClone(trafficPolicy);
    warnings.push(`${quote(name, 20)} copies trafficPolicy of wildcard DestinationRule ${ref(wildcard.rule, wildcard.namespace)}, which it shadows`);
  }
  spec.subsets = [newSubset(request)];
  return { action: 'create', destinationRule: managedRule(name, request, spec, settings), warnings };
}

function managedRule(name: string, request: SubsetRequest, spec: DestinationRule['spec'], settings: RuleSettings): DestinationRule {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace: request.namespace, labels: { [settings.managedByLabel]: settings.managedByValue } },
    spec,
  };
}

/** `<service>`, else `<service>-canary`, `<service>-canary-2`, … : never take over another host's rule. */
function freeName(service: string, taken: (name: string) => boolean): string {
  if (!taken(service)) return service;
  if (!taken(`${service}-canary`)) return `${service}-canary`;
  for (let n = 2; ; n++) {
    if (!taken(`${service}-canary-${n}`)) return `${service}-canary-${n}`;
  }
}

/**
 * The wildcard rule a new exact-host rule would shadow: the most specific one
 * in the namespace, else in the root namespace. Istio looks in the service's
 * namespace before the root one and does not merge across them, so a new
 * exact rule hides a root-namespace wildcard's trafficPolicy too; all three
 * callers (memory store, kube store, offline) hand the root namespace's rules over.
 */
function coveringWildcard(request: SubsetRequest, local: Candidate[], all: Candidate[], settings: RuleSettings): Candidate | undefined {
  const patterns = matchingPatterns(request.host.toLowerCase()).slice(1);
  const root = all
    .filter((c) => c.namespace === settings.rootNamespace && c.namespace !== request.namespace)
    .filter((c) => isVisibleTo(c.rule, request.namespace, settings.rootNamespace))
    .sort(byAge);
  const sortedLocal = [...local].sort(byAge);
  for (const pool of [sortedLocal, root]) {
    for (const pattern of patterns) {
      const match = pool.find((c) => c.host === pattern);
      if (match) return match;
    }
  }
  return undefined;
}

function withSubsets(rule: DestinationRule, subsets: Subset[]): DestinationRule {
  // The list being replaced is left out of the clone: deep-copying it only to
  // drop it made N canaries of one service in a `check`/`inject` run cost
  // O(N²) subset copies. Spreads keep the key order and own `__proto__` keys.
  const updated: DestinationRule = structuredClone({ ...rule, spec: { ...rule.spec, subsets: [] as Subset[] } });
  updated.spec.subsets = subsets;
  return updated;
}

function subsetsOf(rule: DestinationRule): Subset[] {
  const list: unknown = rule.spec?.subsets;
  return Array.isArray(list) ? (list as Subset[]) : [];
}

function nameOf(subset: unknown): string {
  const name = getPath(subset, 'name');
  return typeof name === 'string' ? name : '';
}

function subsetNamesOf(rule: DestinationRule): string[] {
  return subsetsOf(rule).map(nameOf).filter((name) => name !== '');
}

function newSubset(request: SubsetRequest): Subset {
  return { name: request.subsetName, labels: { ...request.labels } };
}

function sameLabels(actual: unknown, wanted: Record<string, string>): boolean {
  if (!isJsonObject(actual)) return false;
  const keys = Object.keys(actual);
  return keys.length === Object.keys(wanted).length && keys.every((key) => actual[key] === wanted[key]);
}

function ref(rule: DestinationRule, namespace?: string): string {
  return clip(`${namespace ?? String(getPath(rule, 'metadata', 'namespace') ?? '')}/${String(getPath(rule, 'metadata', 'name') ?? '')}`, 28);
}
