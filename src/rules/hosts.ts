// Host resolution as Istio's control plane does it at runtime (SPEC §4), not
// `istioctl analyze`'s exact-text matching.
import { appliedSubsets } from './merge.js';
import type { DestinationRule, RuleSettings } from './types.js';

/**
 * Expand a host as written in an object of `namespace` to the name Istio
 * routes on. Hosts are DNS names, so they compare case-insensitively.
 *
 * As Istio's `ResolveShortnameToFQDN` (istio/istio pkg/config/model.go)
 * does: only a dot-less short name is completed with the namespace and
 * `svc.<cluster domain>`. `*`, an IP address and every name with a dot are
 * taken as written, so `reviews.prod`, `reviews.prod.svc` and `*.prod.svc`
 * are literal hosts no Kubernetes service has (see `fullServiceName`).
 */
export function resolveHost(host: string, namespace: string, clusterDomain: string): string {
  const name = host.trim().toLowerCase();
  if (name === '' || name === '*') return name;
  // An IPv6 literal has no dot yet is not a short name (Istio's
  // netutil.IsValidIPAddress check); an IPv4 literal has dots anyway.
  if (name.includes(':')) return name;
  if (name.includes('.')) return name;
  return `${name}.${namespace}.svc.${clusterDomain.toLowerCase()}`;
}

/**
 * The service FQDN that `name.ns` or `name.ns.svc` was probably meant as:
 * the Kubernetes DNS forms that resolve inside a pod but that Istio takes
 * literally. Undefined for anything else (a short name, an FQDN, a
 * wildcard, an IP address, an external name of another shape).
 */
export function fullServiceName(host: string, clusterDomain: string): string | undefined {
  const name = host.trim().toLowerCase();
  if (name.startsWith('*') || name.includes(':') || /^[0-9.]+$/.test(name)) return undefined;
  const domain = clusterDomain.toLowerCase();
  const labels = name.split('.');
  if (labels.some((label) => label === '')) return undefined;
  if (labels.length === 2) return `${name}.svc.${domain}`;
  if (labels.length === 3 && labels[2] === 'svc') return `${name}.${domain}`;
  return undefined;
}

/** The namespace of an in-cluster service FQDN (`name.ns.svc.<domain>`), if it is one. */
export function namespaceOfHost(fqdn: string, clusterDomain: string): string | undefined {
  const svcSuffix = `.svc.${clusterDomain.toLowerCase()}`;
  if (!fqdn.endsWith(svcSuffix) || fqdn.startsWith('*')) return undefined;
  const labels = fqdn.slice(0, -svcSuffix.length).split('.');
  return labels.length === 2 && labels[0] !== '' && labels[1] !== '' ? labels[1] : undefined;
}

/** Does a (resolved) DestinationRule host, possibly a wildcard, cover this FQDN? */
export function hostMatches(pattern: string, fqdn: string): boolean {
  if (pattern === '*') return true;
  // `*.foo.com` covers `a.foo.com` and `a.b.foo.com` but not `foo.com` itself.
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
  for (let i = 1; i < labels.length; i++) {
    const pattern = `*.${labels.slice(i).join('.')}`;
    if (pattern !== fqdn) patterns.push(pattern);
  }
  if (fqdn !== '*') patterns.push('*');
  return patterns;
}

export function resolvedHostOf(rule: DestinationRule, clusterDomain: string): string {
  // Rules reach us from YAML files in offline mode too, so a junk host must
  // not throw: it resolves to something no destination matches.
  const host = rule.spec?.host;
  return typeof host === 'string' ? resolveHost(host, namespaceOf(rule), clusterDomain) : '';
}

function namespaceOf(rule: DestinationRule): string {
  const namespace = rule.metadata?.namespace;
  return typeof namespace === 'string' ? namespace : '';
}

/**
 * SPEC §4 visibility: a rule in N or in the root namespace is visible to N;
 * otherwise its exportTo (default `*`; `.` is its own namespace) must name N or `*`.
 * `~` alone means "exported nowhere": Istio then applies the rule to no proxy,
 * not even in its own namespace, so its subsets do not exist at runtime.
 */
export function isVisibleTo(rule: DestinationRule, namespace: string, rootNamespace: string): boolean {
  const exportTo = Array.isArray(rule.spec?.exportTo) ? rule.spec.exportTo : [];
  if (exportTo.length > 0 && exportTo.every((target) => target === '~')) return false;
  const own = namespaceOf(rule);
  if (own === namespace || own === rootNamespace) return true;
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
  const visible = candidates.filter((rule) => isVisibleTo(rule, fromNamespace, settings.rootNamespace));
  const pick = (namespace: string): SelectedDestinationRules | undefined => {
    const inNamespace = visible.filter((rule) => namespaceOf(rule) === namespace);
    const best = mostSpecificMatch(fqdn, inNamespace, settings.clusterDomain);
    if (best === undefined) return undefined;
    return { host: best.host, namespace, rules: inNamespace.filter((rule) => resolvedHostOf(rule, settings.clusterDomain) === best.host) };
  };

  const own = pick(fromNamespace);
  if (own) return own;
  const serviceNamespace = namespaceOfHost(fqdn, settings.clusterDomain);
  if (serviceNamespace !== undefined) {
    const service = pick(serviceNamespace);
    if (service) return service;
  } else {
    // An external host's "service namespace" is that of its ServiceEntry,
    // which the rules never see. Any other namespace may hold it, so take the
    // most specific visible match among them (ties: first namespace by name)
    // rather than deny traffic Istio would route.
    const others = [...new Set(visible.map(namespaceOf))]
      .filter((namespace) => namespace !== fromNamespace && namespace !== settings.rootNamespace)
      .sort();
    let winner: { selected: SelectedDestinationRules; rank: number } | undefined;
    for (const namespace of others) {
      const selected = pick(namespace);
      if (!selected) continue;
      const rank = matchingPatterns(fqdn).indexOf(selected.host);
      if (!winner || rank < winner.rank) winner = { selected, rank };
    }
    if (winner) return winner.selected;
  }
  return pick(settings.rootNamespace);
}

function mostSpecificMatch(fqdn: string, rules: readonly DestinationRule[], clusterDomain: string): { host: string } | undefined {
  if (rules.length === 0) return undefined;
  const hosts = new Set(rules.map((rule) => resolvedHostOf(rule, clusterDomain)));
  const host = matchingPatterns(fqdn).find((pattern) => hosts.has(pattern));
  return host === undefined ? undefined : { host };
}

/**
 * Subsets of the selected rules as Istio merges same-host rules of one
 * namespace (exportTo, workloadSelector, first name wins): src/rules/merge.ts.
 */
export function mergedSubsets(selected: SelectedDestinationRules): Map<string, { rule: DestinationRule; labels: Record<string, string> | undefined }> {
  return appliedSubsets(selected.rules);
}
