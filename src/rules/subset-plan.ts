// What the DestinationRule side must do so a canary Deployment's subset
// exists (SPEC §2 "The DestinationRule subset"). Pure: the store executes it.
import { getPath, isJsonObject } from './discovery.js';
import { matchingPatterns, resolveHost, isVisibleTo } from './hosts.js';
import { clip, quote } from './text.js';
import type { DestinationRule, RuleSettings, Subset, SubsetPlan, SubsetRequest } from './types.js';

/** A rule whose metadata can be read; anything else in the input is ignored. */
interface Candidate {
  rule: DestinationRule;
  name: string;
  namespace: string;
  /** Resolved `spec.host`; undefined when the rule has none. */
  host: string | undefined;
}

export function planSubset(
  request: SubsetRequest,
  namespaceRules: readonly DestinationRule[],
  settings: RuleSettings,
): SubsetPlan {
  const candidates = namespaceRules.flatMap((rule) => toCandidate(rule, request.namespace, settings));
  const local = candidates.filter((c) => c.namespace === request.namespace).sort(byAge);
  const host = request.host.toLowerCase();
  // Istio merges rules of one host in one namespace, oldest first, and the first
  // definition of a subset name wins; so look through all of them and append to the oldest.
  const exact = local.filter((c) => c.host === host);
  return exact.length > 0 ? planExisting(request, exact) : planCreate(request, local, candidates, settings);
}

function toCandidate(rule: unknown, defaultNamespace: string, settings: RuleSettings): Candidate[] {
  const name = getPath(rule, 'metadata', 'name');
  if (!isJsonObject(rule) || typeof name !== 'string') return [];
  const declared = getPath(rule, 'metadata', 'namespace');
  // Offline input often leaves metadata.namespace empty, like kubectl apply does.
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

function planExisting(request: SubsetRequest, exact: Candidate[]): SubsetPlan {
  for (const candidate of exact) {
    const subsets = getPath(candidate.rule, 'spec', 'subsets');
    const existing = Array.isArray(subsets)
      ? subsets.find((s: unknown) => getPath(s, 'name') === request.subsetName)
      : undefined;
    if (existing === undefined) continue;
    const warnings = sameLabels(getPath(existing, 'labels'), request.labels)
      ? []
      : [`DestinationRule ${ref(candidate)} already has subset ${quote(request.subsetName, 16)} with other labels; left unchanged`];
    return { action: 'none', destinationRule: candidate.rule, warnings };
  }
  const [oldest] = exact as [Candidate, ...Candidate[]];
  const subsets = getPath(oldest.rule, 'spec', 'subsets');
  if (subsets !== undefined && subsets !== null && !Array.isArray(subsets)) {
    // Replacing a malformed list would drop whatever the owner meant by it.
    return {
      action: 'none',
      destinationRule: oldest.rule,
      warnings: [`DestinationRule ${ref(oldest)}: spec.subsets is not a list, so subset ${quote(request.subsetName, 16)} was not added`],
    };
  }
  const updated = structuredClone(oldest.rule);
  // Entries are kept as they are, malformed ones included: this rule is not ours to tidy.
  const kept = (Array.isArray(subsets) ? subsets : []) as Subset[];
  updated.spec.subsets = [...kept, newSubset(request)];
  return { action: 'append', original: oldest.rule, updated, warnings: [] };
}

function planCreate(request: SubsetRequest, local: Candidate[], all: Candidate[], settings: RuleSettings): SubsetPlan {
  const name = freeName(request.service, new Set(local.map((c) => c.name)));
  const spec: DestinationRule['spec'] = { host: request.host };
  const warnings: string[] = [];
  const wildcard = coveringWildcard(request, local, all, settings);
  const trafficPolicy = wildcard ? getPath(wildcard.rule, 'spec', 'trafficPolicy') : undefined;
  if (wildcard && isJsonObject(trafficPolicy)) {
    // Istio applies only the most specific rule for a host, without merging, so
    // the new rule would silently drop the wildcard's mTLS or load-balancing settings.
    spec.trafficPolicy = structuredClone(trafficPolicy);
    warnings.push(`${quote(name, 20)} copies trafficPolicy of wildcard DestinationRule ${ref(wildcard)}, which it shadows`);
  }
  spec.subsets = [newSubset(request)];
  const destinationRule: DestinationRule = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace: request.namespace, labels: { [settings.managedByLabel]: settings.managedByValue } },
    spec,
  };
  return { action: 'create', destinationRule, warnings };
}

/** `<service>`, else `<service>-canary`, `<service>-canary-2`, … : never take over another host's rule. */
function freeName(service: string, taken: ReadonlySet<string>): string {
  if (!taken.has(service)) return service;
  if (!taken.has(`${service}-canary`)) return `${service}-canary`;
  for (let n = 2; ; n++) {
    if (!taken.has(`${service}-canary-${n}`)) return `${service}-canary-${n}`;
  }
}

/**
 * The wildcard rule a new exact-host rule would shadow: the most specific one
 * in the namespace, else in the root namespace when the caller passed its
 * rules too (Istio looks in the service's namespace before the root one).
 */
function coveringWildcard(
  request: SubsetRequest,
  local: Candidate[],
  all: Candidate[],
  settings: RuleSettings,
): Candidate | undefined {
  const patterns = matchingPatterns(request.host.toLowerCase()).slice(1);
  const root = all
    .filter((c) => c.namespace === settings.rootNamespace && c.namespace !== request.namespace)
    .filter((c) => isVisibleTo(c.rule, request.namespace, settings.rootNamespace))
    .sort(byAge);
  for (const pool of [local, root]) {
    for (const pattern of patterns) {
      const match = pool.find((c) => c.host === pattern);
      if (match) return match;
    }
  }
  return undefined;
}

function newSubset(request: SubsetRequest): Subset {
  return { name: request.subsetName, labels: { ...request.labels } };
}

function sameLabels(actual: unknown, wanted: Record<string, string>): boolean {
  if (!isJsonObject(actual)) return false;
  const keys = Object.keys(actual);
  return keys.length === Object.keys(wanted).length && keys.every((key) => actual[key] === wanted[key]);
}

function ref(candidate: Candidate): string {
  return clip(`${candidate.namespace}/${candidate.name}`, 28);
}
