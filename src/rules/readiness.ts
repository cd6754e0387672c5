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
import { mergedSubsets, namespaceOfHost, resolveHost, selectDestinationRules } from './hosts.js';
import { clip, singleLine, warningLine } from './text.js';
import type { DestinationRule, Problem, RuleSettings } from './types.js';
import { isValidWeight } from './weights.js';

export type ReadyPolicy = 'warn' | 'deny' | 'off';

/** One subset that gets traffic, with every route entry that sends it some. */
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
  /** `spec.http[0].route[1]`, ... in document order. */
  paths: string[];
}

/** What a subset selects, counted where the workloads are known. */
export type WorkloadSummary =
  /** A cluster: pods matching the selector, phase Running and not terminating, and of those the Ready ones. */
  | { source: 'pods'; running: number; ready: number }
  /** Standalone and offline: Deployments (admitted or in the input) matching, and those with replicas > 0. */
  | { source: 'deployments'; matching: number; scaled: number };

type Settings = Pick<RuleSettings, 'clusterDomain' | 'rootNamespace'>;
type JsonRecord = Record<string, unknown>;

/**
 * Subsets that get traffic: every `route` destination with weight > 0, or the
 * only destination of its route whatever its weight. Mirrors get a copy of
 * traffic and weight-0 destinations none, so neither can cause a 503. Hosts
 * outside the cluster's service domain have no pods to count. Linear in the
 * object: each host's rules are selected once.
 */
export function readinessQueries(
  virtualService: unknown,
  namespace: string,
  lookup: (host: string) => readonly DestinationRule[],
  settings: Settings,
): ReadinessQuery[] {
  const spec = isRecord(virtualService) ? field(virtualService, 'spec') : undefined;
  if (!isRecord(spec)) return [];
  const walk: QueryWalk = { namespace, lookup, settings, queries: new Map(), hosts: new Map() };
  // Plain loops, no closure per entry: this runs on every admitted review.
  for (const kind of ROUTE_KINDS) {
    const rules = field(spec, kind);
    if (!Array.isArray(rules)) continue;
    for (let index = 0; index < rules.length; index++) {
      const rule: unknown = rules[index];
      const route = isRecord(rule) ? field(rule, 'route') : undefined;
      if (!Array.isArray(route)) continue;
      for (let position = 0; position < route.length; position++) {
        const entry: unknown = route[position];
        if (!isRecord(entry)) continue;
        const weight = field(entry, 'weight');
        if (route.length > 1 && !(isValidWeight(weight) && weight > 0)) continue;
        addQuery(walk, field(entry, 'destination'), kind, index, position);
      }
    }
  }
  return [...walk.queries.values()];
}

const ROUTE_KINDS = ['http', 'tcp', 'tls'] as const;

interface HostEntry {
  fqdn: string;
  /** Undefined for a host outside the cluster's service domain: no pods to count. */
  serviceNamespace: string | undefined;
  service: string;
  subsets: ReturnType<typeof mergedSubsets> | undefined;
  /** Per subset name: its labels as a selector and the query key, or null when it is not a readiness question. */
  bySubset: Map<string, { labels: Record<string, string>; key: string } | null>;
}

interface QueryWalk {
  namespace: string;
  lookup: (host: string) => readonly DestinationRule[];
  settings: Settings;
  queries: Map<string, ReadinessQuery>;
  /** By host as written: resolution and DestinationRule selection once per host. */
  hosts: Map<string, HostEntry>;
}

/**
 * Selection and merge per (frozen candidate list, namespace, host), kept
 * while the list lives. A store's host index hands out the same frozen list
 * until a DestinationRule changes, so an admitted review pays for selection
 * once (in the subset check) rather than twice. Only frozen lists are
 * memoised: a caller's mutable array may change between calls.
 */
const selections = new WeakMap<readonly DestinationRule[], Map<string, HostEntry>>();
/** Entries per candidate list before the memo starts over: bounded whatever namespaces ask. */
const MAX_SELECTIONS_PER_LIST = 256;

function hostEntry(walk: QueryWalk, host: string): HostEntry {
  const { clusterDomain, rootNamespace } = walk.settings;
  const fqdn = resolveHost(host, walk.namespace, clusterDomain);
  const serviceNamespace = namespaceOfHost(fqdn, clusterDomain);
  const service = fqdn.slice(0, fqdn.indexOf('.'));
  if (serviceNamespace === undefined) return { fqdn, serviceNamespace, service, subsets: undefined, bySubset: new Map() };
  const candidates = walk.lookup(fqdn);
  const memoKey = `${walk.namespace}\n${fqdn}\n${rootNamespace}\n${clusterDomain}`;
  let memo = Object.isFrozen(candidates) ? selections.get(candidates) : undefined;
  const known = memo?.get(memoKey);
  if (known) return known;
  const selected = selectDestinationRules(fqdn, walk.namespace, candidates, walk.settings);
  const entry: HostEntry = { fqdn, serviceNamespace, service, subsets: selected ? mergedSubsets(selected) : undefined, bySubset: new Map() };
  if (Object.isFrozen(candidates)) {
    if (!memo || memo.size >= MAX_SELECTIONS_PER_LIST) selections.set(candidates, (memo = new Map()));
    memo.set(memoKey, entry);
  }
  return entry;
}

function subsetEntry(target: HostEntry, subset: string): { labels: Record<string, string>; key: string } | null {
  let known = target.bySubset.get(subset);
  if (known !== undefined) return known;
  const defined = target.subsets?.get(subset);
  // An undefined subset is the subset check's denial, not a readiness question.
  const labels = defined ? labelSelectorOf(defined.labels) : undefined;
  // The subset name is part of the identity so each message names the subset its path routes to; reads are shared by selector anyway.
  known = labels ? { labels, key: `${target.serviceNamespace}\n${target.service}\n${subset}\n${selectorString(labels)}` } : null;
  // Bounded by the subsets the rules define.
  if (defined) target.bySubset.set(subset, known);
  return known;
}

function addQuery(walk: QueryWalk, destination: unknown, kind: string, index: number, position: number): void {
  if (!isRecord(destination)) return;
  const host = field(destination, 'host');
  const subset = field(destination, 'subset');
  if (typeof host !== 'string' || typeof subset !== 'string' || subset === '' || host.trim() === '') return;
  let target = walk.hosts.get(host);
  if (!target) walk.hosts.set(host, (target = hostEntry(walk, host)));
  if (target.serviceNamespace === undefined) return;
  const defined = subsetEntry(target, subset);
  if (!defined) return;
  const path = `spec.${kind}[${index}].route[${position}]`;
  const query = walk.queries.get(defined.key);
  if (query) query.paths.push(path);
  else walk.queries.set(defined.key, { key: defined.key, namespace: target.serviceNamespace, service: target.service, host: target.fqdn, subset, labels: defined.labels, paths: [path] });
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
): { problems: Problem[]; warnings: string[] } {
  const lines: Array<{ path: string; message: string }> = [];
  if (policy === 'off') return { problems: [], warnings: [] };
  for (const query of queries) {
    const summary = summaryOf(query);
    if (!summary || isReady(summary)) continue;
    const message = notReadyMessage(query, summary);
    for (const path of query.paths) lines.push({ path, message });
  }
  if (policy === 'deny') return { problems: lines.map(({ path, message }) => ({ path, kind: 'ready', message: `${message}; shift traffic once it has Ready pods` })), warnings: [] };
  const warnings = lines.slice(0, MAX_READY_FINDINGS).map(({ path, message }) => singleLine(`${path}: ${message}`));
  const rest = lines.length - warnings.length;
  if (rest > 0) warnings.push(warningLine(`... and ${rest} more destinations with no ready pod`));
  return { problems: [], warnings };
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
