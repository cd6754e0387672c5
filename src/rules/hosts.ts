// Host resolution as Istio's control plane does it at runtime (SPEC §4), not
// `istioctl analyze`'s exact-text matching.
import type { DestinationRule, RuleSettings } from './types.js';

/**
 * Expand a host as written in an object of `namespace` to the name Istio
 * routes on. Hosts are DNS names, so they compare case-insensitively.
 */
export function resolveHost(host: string, namespace: string, clusterDomain: string): string {
  const name = host.trim().toLowerCase();
  if (name === '*' || name === '') return name;
  const svcSuffix = `.svc.${clusterDomain}`;
  if (name.endsWith(svcSuffix)) return name;
  const labels = name.split('.');
  if (labels.length === 1) return `${name}.${namespace}${svcSuffix}`;
  if (labels.length === 2) return `${name}${svcSuffix}`;
  if (labels.length === 3 && labels[2] === 'svc') return `${name}.${clusterDomain}`;
  return name;
}

/** The namespace of an in-cluster service FQDN (`name.ns.svc.<domain>`), if it is one. */
export function namespaceOfHost(fqdn: string, clusterDomain: string): string | undefined {
  const svcSuffix = `.svc.${clusterDomain}`;
  if (!fqdn.endsWith(svcSuffix) || fqdn.startsWith('*')) return undefined;
  const labels = fqdn.slice(0, -svcSuffix.length).split('.');
  return labels.length === 2 ? labels[1] : undefined;
}

/** Does a (resolved) DestinationRule host, possibly a wildcard, cover this FQDN? */
export function hostMatches(pattern: string, fqdn: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return fqdn.endsWith(pattern.slice(1));
  return pattern === fqdn;
}

/**
 * Every pattern that can match `fqdn`, most specific first: the name itself,
 * then `*.<suffix>` for each shorter suffix, then `*`. A cache indexed by
 * resolved host looks these up, so a lookup costs the number of labels in the
 * name, not the number of DestinationRules.
 */
export function matchingPatterns(fqdn: string): string[] {
  const patterns = [fqdn];
  const labels = fqdn.split('.');
  for (let i = 1; i < labels.length; i++) patterns.push(`*.${labels.slice(i).join('.')}`);
  if (fqdn !== '*') patterns.push('*');
  return patterns;
}

export function resolvedHostOf(rule: DestinationRule, clusterDomain: string): string {
  return resolveHost(String(rule.spec?.host ?? ''), rule.metadata.namespace, clusterDomain);
}

/**
 * SPEC §4 visibility: a rule in N or in the root namespace is visible to N;
 * otherwise its exportTo (default `*`; `.` is its own namespace) must name N or `*`.
 */
export function isVisibleTo(rule: DestinationRule, namespace: string, rootNamespace: string): boolean {
  if (rule.metadata.namespace === namespace || rule.metadata.namespace === rootNamespace) return true;
  const exportTo = Array.isArray(rule.spec?.exportTo) ? rule.spec.exportTo : ['*'];
  if (exportTo.length === 0) return true;
  return exportTo.some((target) => target === '*' || target === namespace);
}

export interface SelectedDestinationRules {
  /** The resolved host pattern that won (the FQDN itself or a wildcard). */
  host: string;
  namespace: string;
  /** Rules in `namespace` with exactly that host: Istio merges them, first subset name wins. */
  rules: DestinationRule[];
}

/**
 * Which DestinationRules Istio applies to traffic from `fromNamespace` to
 * `fqdn`: the caller's own namespace first, then the service's namespace,
 * then the root namespace; within one namespace the most specific host wins.
 * Mirrors `PushContext.destinationRule` in pilot/pkg/model/push_context.go.
 */
export function selectDestinationRules(
  fqdn: string,
  fromNamespace: string,
  candidates: readonly DestinationRule[],
  settings: Pick<RuleSettings, 'clusterDomain' | 'rootNamespace'>,
): SelectedDestinationRules | undefined {
  const order = [fromNamespace, namespaceOfHost(fqdn, settings.clusterDomain), settings.rootNamespace];
  const seen = new Set<string>();
  for (const namespace of order) {
    if (namespace === undefined || seen.has(namespace)) continue;
    seen.add(namespace);
    const inNamespace = candidates.filter(
      (rule) => rule.metadata.namespace === namespace && isVisibleTo(rule, fromNamespace, settings.rootNamespace),
    );
    const best = mostSpecificMatch(fqdn, inNamespace, settings.clusterDomain);
    if (best) return { host: best, namespace, rules: inNamespace.filter((r) => resolvedHostOf(r, settings.clusterDomain) === best) };
  }
  return undefined;
}

function mostSpecificMatch(fqdn: string, rules: readonly DestinationRule[], clusterDomain: string): string | undefined {
  if (rules.length === 0) return undefined;
  const hosts = new Set(rules.map((rule) => resolvedHostOf(rule, clusterDomain)));
  return matchingPatterns(fqdn).find((pattern) => hosts.has(pattern));
}

/** Subsets of the selected rules merged the way Istio merges same-host rules: first definition of a name wins. */
export function mergedSubsets(selected: SelectedDestinationRules): Map<string, { rule: DestinationRule; labels: Record<string, string> | undefined }> {
  const subsets = new Map<string, { rule: DestinationRule; labels: Record<string, string> | undefined }>();
  for (const rule of selected.rules) {
    for (const subset of Array.isArray(rule.spec.subsets) ? rule.spec.subsets : []) {
      if (subset && typeof subset.name === 'string' && !subsets.has(subset.name)) {
        subsets.set(subset.name, { rule, labels: subset.labels });
      }
    }
  }
  return subsets;
}
