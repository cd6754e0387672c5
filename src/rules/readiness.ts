// SPEC §10: a destination that gets traffic and names a subset selecting no
// ready pod answers 503 (`no healthy upstream`). Pure parts only: which
// subsets to look at (the same DestinationRule selection and merge as the
// subset check), how pods or Deployments are counted, and the messages. The
// reads live in src/store (kube: label-selected pod lists; memory and the CLI:
// Deployments).
//
// Istio builds a subset's endpoints from the Service's endpoints filtered by
// the subset's labels (pilot/pkg/xds/endpoints/endpoint_builder.go,
// `BuildClusterLoadAssignment`: `b.subsetLabels.SubsetOf(ep.Labels)`), and a
// Service's endpoints are the Ready pods its selector picks; so "no Ready pod
// matching subset labels ∪ Service selector" is an empty cluster, which
// Envoy answers with 503 `no healthy upstream`.
import { readDeployment, discoverService } from './discovery.js';
import { namespaceOfHost } from './hosts.js';
import { MAX_PROBLEM_LINES, sortByPath } from './problem-sink.js';
import type { ReferenceTable, SubsetPair } from './reference-table.js';
import { answerOf, viewsFor, type HostAnswer, type RuleView } from './rule-views.js';
import { clip, singleLine, warningLine } from './text.js';
import type { DestinationRule, Problem, RuleSettings } from './types.js';
import { safeWalk } from './walk.js';
import { isValidWeight } from './weights.js';

export type ReadyPolicy = 'warn' | 'deny' | 'off';

/** One subset that gets traffic, with the route entries that send it some. */
export interface ReadinessQuery {
  /** Identity: service namespace, service, subset name and labels. */
  key: string;
  /** The service's namespace: where its pods are. */
  namespace: string;
  service: string;
  /** Resolved FQDN, for messages. */
  host: string;
  subset: string;
  /** The subset's labels (empty: every pod of the service). */
  labels: Record<string, string>;
  /** `spec.http[0].route[1]`, ... in document order: the first MAX_QUERY_PATHS of them. */
  paths: string[];
  /** All the route entries that send it traffic. */
  pathCount: number;
}

/** What a subset selects, counted where the workloads are known. */
export type WorkloadSummary =
  /** A cluster: pods matching the selector, phase Running and not terminating, and of those the Ready ones. */
  | { source: 'pods'; running: number; ready: number }
  /** Standalone and offline: Deployments (admitted or in the input) matching, and those with replicas > 0. */
  | { source: 'deployments'; matching: number; scaled: number };

type Settings = Pick<RuleSettings, 'clusterDomain' | 'rootNamespace'>;
type JsonRecord = Record<string, unknown>;

/** Paths a query keeps: a denial shows MAX_PROBLEM_LINES lines in all. */
export const MAX_QUERY_PATHS = MAX_PROBLEM_LINES;

/**
 * Subsets that get traffic: every `route` destination with weight > 0, or the
 * only destination of its route whatever its weight. Mirrors get a copy of
 * traffic and weight-0 destinations none, so neither can cause a 503. Hosts
 * outside the cluster's service domain have no pods to count.
 */
export function readinessQueries(virtualService: unknown, namespace: string, lookup: (host: string) => readonly DestinationRule[], settings: Settings): ReadinessQuery[] {
  return readinessQueriesFrom(safeWalk(virtualService, namespace, settings.clusterDomain, 'sum-100').references, namespace, lookup, settings);
}

/**
 * readinessQueries from the references of a walk already made (which mark
 * what carries traffic), so the object is not walked again and a review can
 * ask after its object is gone. Each host's rules are selected once, through
 * the same kept views as the subset check (src/rules/rule-views.ts).
 */
export function readinessQueriesFrom(references: ReferenceTable, namespace: string, lookup: (host: string) => readonly DestinationRule[], settings: Settings): ReadinessQuery[] {
  const queries = new Map<string, ReadinessQuery>();
  const byPair = new Map<number, ReadinessQuery | null>();
  const viewOf = viewsFor(lookup, namespace, settings);
  for (let reference = 0; reference < references.size; reference++) {
    if (!references.carriesTraffic(reference)) continue;
    const pair = references.pair(reference);
    let query = byPair.get(pair);
    if (query === undefined) {
      query = queryFor(references.pairs[pair]!, viewOf, settings, queries);
      byPair.set(pair, query);
    }
    if (query === null) continue;
    if (query.paths.length < MAX_QUERY_PATHS) query.paths.push(references.path(reference));
    query.pathCount++;
  }
  return [...queries.values()];
}

/** The query of one host+subset (shared by pairs that select the same pods), or null when it is not a readiness question. */
function queryFor(pair: SubsetPair, viewOf: (host: string) => RuleView, settings: Settings, queries: Map<string, ReadinessQuery>): ReadinessQuery | null {
  const { host: fqdn, subset } = pair;
  const serviceNamespace = namespaceOfHost(fqdn, settings.clusterDomain);
  if (serviceNamespace === undefined) return null;
  const subsetQuery = subsetQueryOf(answerOf(viewOf(fqdn), fqdn), fqdn, serviceNamespace, subset);
  if (!subsetQuery) return null;
  const { key, service, labels } = subsetQuery;
  let query = queries.get(key);
  if (!query) queries.set(key, (query = { key, namespace: serviceNamespace, service, host: fqdn, subset, labels, paths: [], pathCount: 0 }));
  return query;
}

type SubsetQuery = { key: string; service: string; labels: Record<string, string> };

/**
 * Per host answer (kept between reviews with its view) and subset: the
 * selector and the query key, made once. The same labels object every
 * review lets the pod reader keep its plan for it (src/store/kube/workloads.ts).
 */
const subsetQueries = new WeakMap<HostAnswer, Map<string, SubsetQuery | null>>();

function subsetQueryOf(answer: HostAnswer, fqdn: string, serviceNamespace: string, subset: string): SubsetQuery | null {
  let bySubset = subsetQueries.get(answer);
  const known = bySubset?.get(subset);
  if (known !== undefined) return known;
  // An undefined subset is the subset check's denial, not a readiness question.
  const defined = answer.merged.get(subset);
  const labels = defined ? labelSelectorOf(defined.labels) : undefined;
  const service = fqdn.slice(0, fqdn.indexOf('.'));
  // The subset name is part of the identity so each message names the subset its path routes to; reads are shared by selector anyway.
  const made = labels ? { key: `${serviceNamespace}\n${service}\n${subset}\n${selectorString(labels)}`, service, labels } : null;
  // Bounded by the subsets the rules define.
  if (defined) {
    if (!bySubset) subsetQueries.set(answer, (bySubset = new Map()));
    bySubset.set(subset, made);
  }
  return made;
}

/**
 * The pods a subset's traffic can reach match its labels and the Service's
 * selector. 'conflict' when the two disagree on a key (no pod can match);
 * undefined when together they select nothing narrower than the namespace.
 */
export function podSelector(subsetLabels: Readonly<Record<string, string>>, serviceSelector: Readonly<Record<string, string>> | undefined): Record<string, string> | 'conflict' | undefined {
  const merged: Record<string, string> = { ...serviceSelector };
  for (const [key, value] of Object.entries(subsetLabels)) {
    if (Object.hasOwn(merged, key) && merged[key] !== value) return 'conflict';
    merged[key] = value;
  }
  return Object.keys(merged).length === 0 ? undefined : merged;
}

/** `a=b,c=d`, keys sorted: one string per selector, usable as a cache key and as `labelSelector`. */
export function selectorString(selector: Readonly<Record<string, string>>): string {
  return Object.keys(selector).sort().map((key) => `${key}=${selector[key]}`).join(',');
}

/**
 * Labels as a selector, or undefined when they cannot be one: a label key or
 * value outside Kubernetes' syntax would change the meaning of a
 * `labelSelector` string (`v1,app!=x`), and matches no pod in any case.
 */
export function labelSelectorOf(labels: unknown): Record<string, string> | undefined {
  if (labels === undefined || labels === null) return {};
  if (!isRecord(labels)) return undefined;
  const selector: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) {
    if (typeof value !== 'string' || !isLabelKey(key) || !isLabelValue(value)) return undefined;
    selector[key] = value;
  }
  return selector;
}

const labelName = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function isLabelKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash === -1) return labelName.test(key);
  const prefix = key.slice(0, slash);
  return prefix.length <= 253 && dnsSubdomain.test(prefix) && labelName.test(key.slice(slash + 1));
}

function isLabelValue(value: string): boolean {
  return value === '' || labelName.test(value);
}

/** Count pods as Envoy will see endpoints: Running, not being deleted, and Ready. Never throws on junk. */
export function countPods(items: readonly unknown[]): { running: number; ready: number } {
  let running = 0;
  let ready = 0;
  for (const pod of items) {
    if (!isRecord(pod)) continue;
    const metadata = field(pod, 'metadata');
    if (isRecord(metadata) && field(metadata, 'deletionTimestamp')) continue;
    const status = field(pod, 'status');
    if (!isRecord(status) || field(status, 'phase') !== 'Running') continue;
    running++;
    const conditions = field(status, 'conditions');
    if (Array.isArray(conditions) && conditions.some((c: unknown) => isRecord(c) && field(c, 'type') === 'Ready' && field(c, 'status') === 'True')) ready++;
  }
  return { running, ready };
}

/** A Deployment as the readiness check counts it when there are no pods (standalone, offline). */
export interface WorkloadTemplate {
  namespace: string;
  /** The service it backs by SPEC §2's rule, when it names one. */
  service: string | undefined;
  /** Pod template labels. */
  labels: Record<string, string>;
  replicas: number;
}

export function workloadOf(deployment: unknown, namespace: string, settings: RuleSettings): WorkloadTemplate | undefined {
  const view = readDeployment(deployment);
  if (!view.ok) return undefined;
  const service = discoverService(view.value, settings);
  const spec = isRecord(deployment) ? field(deployment, 'spec') : undefined;
  const replicas = isRecord(spec) ? field(spec, 'replicas') : undefined;
  return {
    namespace,
    service: service.ok ? service.value.value : undefined,
    labels: { ...view.value.templateLabels },
    // The API server defaults a missing replicas to 1.
    replicas: isValidWeight(replicas) ? replicas : 1,
  };
}

/**
 * Deployments that would run the subset's pods: in the service's namespace,
 * template labels covering the subset's labels, and either matching the
 * Service's selector when it is known or backing that service by name.
 */
export function summarizeWorkloads(
  workloads: Iterable<WorkloadTemplate>,
  query: Pick<ReadinessQuery, 'namespace' | 'service' | 'labels'>,
  serviceSelector?: Readonly<Record<string, string>>,
): Extract<WorkloadSummary, { source: 'deployments' }> {
  let matching = 0;
  let scaled = 0;
  for (const workload of workloads) {
    if (workload.namespace !== query.namespace) continue;
    if (serviceSelector ? !covers(workload.labels, serviceSelector) : workload.service !== query.service) continue;
    if (!covers(workload.labels, query.labels)) continue;
    matching++;
    if (workload.replicas > 0) scaled++;
  }
  return { source: 'deployments', matching, scaled };
}

function covers(labels: Readonly<Record<string, string>>, selector: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([key, value]) => Object.hasOwn(labels, key) && labels[key] === value);
}

export function isReady(summary: WorkloadSummary): boolean {
  return summary.source === 'pods' ? summary.ready > 0 : summary.scaled > 0;
}

/** At most this many readiness lines per review; the rest are counted. */
export const MAX_READY_FINDINGS = 10;

/**
 * Findings for the subsets whose summary says nothing ready; undefined
 * summaries (not read: over the cap, past the deadline, no selector) say nothing.
 */
export function readinessFindings(
  queries: readonly ReadinessQuery[],
  summaryOf: (query: ReadinessQuery) => WorkloadSummary | undefined,
  policy: ReadyPolicy,
): { problems: Problem[]; problemCount: number; warnings: string[] } {
  const lines: Array<{ path: string; message: string }> = [];
  let count = 0;
  if (policy === 'off') return { problems: [], problemCount: 0, warnings: [] };
  for (const query of queries) {
    const summary = summaryOf(query);
    if (!summary || isReady(summary)) continue;
    const message = notReadyMessage(query, summary);
    for (const path of query.paths) lines.push({ path, message });
    count += query.pathCount;
  }
  if (policy === 'deny') {
    const problems = sortByPath(lines.map(({ path, message }): Problem => ({ path, kind: 'ready', message: `${message}; shift traffic once it has Ready pods` })));
    return { problems: problems.slice(0, MAX_PROBLEM_LINES), problemCount: count, warnings: [] };
  }
  const warnings = lines.slice(0, MAX_READY_FINDINGS).map(({ path, message }) => singleLine(`${path}: ${message}`));
  const rest = count - warnings.length;
  if (rest > 0) warnings.push(warningLine(`... and ${rest} more destinations with no ready pod`));
  return { problems: [], problemCount: 0, warnings };
}

function notReadyMessage(query: ReadinessQuery, summary: WorkloadSummary): string {
  const detail = summary.source === 'pods'
    ? `${summary.ready} of ${summary.running} Running pods Ready`
    : summary.matching === 0 ? 'no Deployment matches its labels'
    : `${summary.matching} matching Deployment${summary.matching === 1 ? '' : 's'}, scaled to 0`;
  // Input text in a message: bounded (DNS names are at most 253 characters) and on one line.
  return `subset ${JSON.stringify(clip(query.subset, 63))} of ${clip(query.host, 253)} selects no ready pod (${detail}); traffic sent there gets 503`;
}

function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(record: JsonRecord, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
