// The guard (SPEC §9): routing integrity in the other direction. A
// DestinationRule edit or delete, or an opted-in Deployment going away, must
// not leave a VirtualService routing to nothing. Pure: the caller hands in
// the change, the VirtualServices that route to the host (a store index) and
// a DestinationRule lookup; the answer is findings. References are resolved
// by the very code that validates VirtualServices (subsetReferences,
// checkSubsets, selectDestinationRules, mergedSubsets): "which references
// resolve before, which after".
import { discoverService, readDeployment } from './discovery.js';
import { hostMatches, mergedSubsets, resolvedHostOf, selectDestinationRules } from './hosts.js';
import { checkSubsets, type SubsetReference } from './subsets.js';
import { clip, singleLine } from './text.js';
import type { DestinationRule, RuleSettings } from './types.js';
import { subsetReferences } from './validate.js';

export interface GuardVirtualService {
  metadata: { name: string; namespace: string };
  spec?: unknown;
}

export interface GuardFinding {
  /** `deny` blocks the change (unless the guard is in warn mode); `warn` always admits. */
  severity: 'deny' | 'warn';
  message: string;
  /** Namespace of the VirtualService concerned: re-read before a denial. */
  namespace: string;
}

/** A DestinationRule change: UPDATE has both, DELETE only `before`. */
export interface DestinationRuleChange {
  before: DestinationRule | undefined;
  after: DestinationRule | undefined;
}

type Lookup = (host: string) => readonly DestinationRule[];
type Settings = Pick<RuleSettings, 'clusterDomain' | 'rootNamespace' | 'optInLabel' | 'serviceAnnotation'>;

/** Lines of one denial; the rest are counted. */
export const MAX_GUARD_LINES = 50;

/**
 * References that resolve with the rule as it is (`before`) and not with the
 * rule as it would be (`after`): each is a denial naming the VirtualService,
 * the path and the weight. References already broken before do not count.
 */
export function destinationRuleChangeFindings(change: DestinationRuleChange, virtualServices: readonly GuardVirtualService[], lookup: Lookup, settings: Settings): GuardFinding[] {
  const patterns = [change.before, change.after].flatMap((rule) => (rule ? [resolvedHostOf(rule, settings.clusterDomain)] : [])).filter((host) => host !== '');
  const findings: GuardFinding[] = [];
  for (const virtualService of virtualServices) {
    const namespace = virtualService.metadata.namespace;
    const byHost = new Map<string, SubsetReference[]>();
    for (const reference of subsetReferences(virtualService, { namespace, settings: settings as RuleSettings })) {
      if (!patterns.some((pattern) => hostMatches(pattern, reference.host))) continue;
      const list = byHost.get(reference.host);
      if (list) list.push(reference);
      else byHost.set(reference.host, [reference]);
    }
    for (const [host, references] of byHost) {
      const current = lookup(host);
      const brokenBefore = brokenPaths(references, withRule(current, change.before, change.before), namespace, settings);
      const brokenAfter = brokenPaths(references, withRule(current, change.before, change.after), namespace, settings);
      for (const reference of references) {
        if (!brokenAfter.has(reference.path) || brokenBefore.has(reference.path)) continue;
        findings.push({ severity: 'deny', message: stillRoutedMessage(virtualService, reference), namespace });
      }
    }
  }
  return findings;
}

/**
 * An opted-in Deployment deleted (or scaled to 0 replicas, `scaleToZero`):
 * for each subset of its service whose labels its pod template matches, when
 * no other Deployment of the namespace backs that subset, every
 * VirtualService reference to it is a finding: a denial when it carries
 * traffic (weight > 0, or the route's only destination), a warning when it
 * does not (weight 0, mirror), and only warnings when scaling to zero.
 */
export function deploymentRemovalFindings(input: {
  deployment: unknown;
  namespace: string;
  /** Other Deployments of the namespace, as read just now. */
  others: readonly unknown[];
  /** VirtualServices with a subset reference to this host. */
  virtualServices: (host: string) => readonly GuardVirtualService[];
  lookup: Lookup;
  settings: Settings;
  scaleToZero: boolean;
}): GuardFinding[] {
  const { namespace, settings } = input;
  const leaving = backing(input.deployment, settings);
  if (!leaving) return [];
  const name = nameOf(input.deployment);
  const remaining = input.others.flatMap((other) => {
    if (nameOf(other) === name || isBeingDeleted(other)) return [];
    const view = backing(other, settings);
    return view && view.service === leaving.service ? [view.templateLabels] : [];
  });
  const host = `${leaving.service}.${namespace}.svc.${settings.clusterDomain}`;
  const who = `Deployment ${show(`${namespace}/${name}`)}`;
  const findings: GuardFinding[] = [];
  for (const virtualService of input.virtualServices(host)) {
    const vsNamespace = virtualService.metadata.namespace;
    const references = subsetReferences(virtualService, { namespace: vsNamespace, settings: settings as RuleSettings }).filter((reference) => reference.host === host);
    if (references.length === 0) continue;
    const selected = selectDestinationRules(host, vsNamespace, input.lookup(host), settings);
    const subsets = selected ? mergedSubsets(selected) : undefined;
    for (const reference of references) {
      const labels = subsets?.get(reference.subset)?.labels ?? undefined;
      // A reference that does not resolve is already broken: section 3's business, not this change's.
      if (!subsets?.has(reference.subset)) continue;
      if (!selects(labels, leaving.templateLabels) || remaining.some((template) => selects(labels, template))) continue;
      const share = routeShare(virtualService, reference.path);
      const carries = share.kind === 'route' && (share.alone || (share.weight ?? 0) > 0);
      const vs = `VirtualService ${show(`${vsNamespace}/${virtualService.metadata.name}`)}`;
      const subset = `subset ${JSON.stringify(show(reference.subset))} of ${show(host)}`;
      if (carries && !input.scaleToZero) {
        findings.push({ severity: 'deny', message: `${who} is the last one backing ${subset}, and ${vs} sends it ${percent(share)} of traffic (${reference.path}${weightNote(share)}); shift its traffic and remove the reference first`, namespace: vsNamespace });
      } else if (carries) {
        findings.push({ severity: 'warn', message: `${who} scaled to 0 leaves ${subset} with no pods while ${vs} sends it ${percent(share)} of traffic (${reference.path}); shift its traffic first`, namespace: vsNamespace });
      } else if (!input.scaleToZero) {
        const how = share.kind === 'mirror' ? 'mirrors to it' : 'still names it with weight 0';
        findings.push({ severity: 'warn', message: `${who} is the last one backing ${subset}; ${vs} ${how} (${reference.path}); remove the reference`, namespace: vsNamespace });
      }
    }
  }
  return findings;
}

/** One denial text from findings: one line each, capped. */
export function formatFindings(findings: readonly GuardFinding[]): string {
  const lines = findings.slice(0, MAX_GUARD_LINES).map((finding) => singleLine(finding.message));
  const rest = findings.length - lines.length;
  if (rest > 0) lines.push(`... and ${rest} more`);
  return lines.join('\n');
}

/** How much of its route a reference carries. */
export interface RouteShare {
  kind: 'route' | 'mirror';
  /** The weight as written (integers only), undefined when absent. */
  weight?: number;
  /** The only destination of its route: it gets all traffic whatever its weight. */
  alone: boolean;
  /** Share of the route's traffic, 0–100. */
  percent: number;
}

const ROUTE_PATH = /^spec\.(http|tcp|tls)\[(\d+)\]\.route\[(\d+)\]$/;

/** The share of a route entry at `path` (as subsetReferences writes it) in `virtualService`. */
export function routeShare(virtualService: unknown, path: string): RouteShare {
  const match = ROUTE_PATH.exec(path);
  if (!match) return { kind: 'mirror', alone: false, percent: 0 };
  const rules = at(at(virtualService, 'spec'), match[1]!);
  const route = at(Array.isArray(rules) ? rules[Number(match[2])] : undefined, 'route');
  const entries = Array.isArray(route) ? route : [];
  const weightOf = (entry: unknown): number | undefined => {
    const weight = at(entry, 'weight');
    return typeof weight === 'number' && Number.isInteger(weight) && weight >= 0 ? weight : undefined;
  };
  const weight = weightOf(entries[Number(match[3])]);
  const alone = entries.length === 1;
  const total = entries.reduce<number>((sum, entry) => sum + (weightOf(entry) ?? 0), 0);
  return { kind: 'route', weight, alone, percent: alone ? 100 : total > 0 ? ((weight ?? 0) * 100) / total : 0 };
}

function stillRoutedMessage(virtualService: GuardVirtualService, reference: SubsetReference): string {
  const vs = show(`${virtualService.metadata.namespace}/${virtualService.metadata.name}`);
  const subset = JSON.stringify(show(reference.subset));
  const share = routeShare(virtualService, reference.path);
  if (share.kind === 'mirror') return `subset ${subset} is still mirrored to by VirtualService ${vs} (${reference.path}); remove the mirror first`;
  return `subset ${subset} is still routed by VirtualService ${vs} (${reference.path}${weightNote(share)}); shift its traffic and remove the reference first`;
}

function weightNote(share: RouteShare): string {
  if (share.weight !== undefined) return `, weight ${share.weight}`;
  return share.alone ? ', its only destination' : ', weight 0';
}

function percent(share: RouteShare): string {
  return `${Math.round(share.percent * 10) / 10}%`;
}

/** Paths of references that do not resolve against `candidates`. */
function brokenPaths(references: readonly SubsetReference[], candidates: readonly DestinationRule[], namespace: string, settings: Settings): Set<string> {
  return new Set(checkSubsets(references, candidates, namespace, settings).map((problem) => problem.path));
}

/**
 * `candidates` with the rule of `key`'s namespace/name replaced by `rule`
 * (removed when undefined), in place so that Istio's merge order (the
 * lookup's order) is kept; appended when the lookup did not hold it.
 */
function withRule(candidates: readonly DestinationRule[], key: DestinationRule | undefined, rule: DestinationRule | undefined): DestinationRule[] {
  const same = (candidate: DestinationRule): boolean =>
    key !== undefined && candidate.metadata?.namespace === key.metadata?.namespace && candidate.metadata?.name === key.metadata?.name;
  const result: DestinationRule[] = [];
  let placed = false;
  for (const candidate of candidates) {
    if (!same(candidate)) result.push(candidate);
    else if (rule && !placed) {
      result.push(rule);
      placed = true;
    }
  }
  if (rule && !placed) result.push(rule);
  return result;
}

/** Service name and pod template labels of a Deployment, by the mutating side's rules; undefined when it has no service. */
function backing(deployment: unknown, settings: Settings): { service: string; templateLabels: Record<string, string> } | undefined {
  const view = readDeployment(deployment);
  if (!view.ok) return undefined;
  const service = discoverService(view.value, settings as RuleSettings);
  return service.ok ? { service: service.value.value, templateLabels: view.value.templateLabels } : undefined;
}

/** Does a subset with these labels select pods of this template? No labels select every pod of the service. */
function selects(labels: Record<string, string> | undefined, template: Record<string, string>): boolean {
  return Object.entries(labels ?? {}).every(([key, value]) => template[key] === value);
}

function nameOf(object: unknown): string {
  const name = at(at(object, 'metadata'), 'name');
  return typeof name === 'string' ? name : '';
}

function isBeingDeleted(object: unknown): boolean {
  const stamp = at(at(object, 'metadata'), 'deletionTimestamp');
  return stamp !== undefined && stamp !== null;
}

function at(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
}

/** Names in a message: bounded and on one line. */
function show(text: string): string {
  return singleLine(clip(text, 253));
}
