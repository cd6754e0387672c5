// The selection and subset check as they were before issue 10 (commit
// 5e953ba, with the merge rules of issue 11): quadratic, but a direct
// transcription of SPEC §4. Kept only as a test oracle: the bounded versions
// must give the same answers and texts. Resolution, visibility and merging
// are imported, so they stay in step.
import { hostMatches, isVisibleTo, mergedSubsets, namespaceOfHost, resolvedHostOf, type SelectedDestinationRules } from '../../src/rules/hosts.js';
import { catchAll, consolidate, separateRuleHint } from '../../src/rules/merge.js';
import type { SubsetReference } from '../../src/rules/subsets.js';
import { clip, singleLine } from '../../src/rules/text.js';
import type { DestinationRule, Problem, RuleSettings } from '../../src/rules/types.js';

type Settings = Pick<RuleSettings, 'clusterDomain' | 'rootNamespace'>;
const MAX_LISTED_SUBSETS = 10;

function namespaceOf(rule: DestinationRule): string {
  const namespace = rule.metadata?.namespace;
  return typeof namespace === 'string' ? namespace : '';
}

export function referenceMatchingPatterns(fqdn: string): string[] {
  const patterns = [fqdn];
  const labels = fqdn.split('.');
  for (let i = 1; i < labels.length; i++) {
    const pattern = `*.${labels.slice(i).join('.')}`;
    if (pattern !== fqdn) patterns.push(pattern);
  }
  if (fqdn !== '*') patterns.push('*');
  return patterns;
}

export function referenceSelect(
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
      const rank = referenceMatchingPatterns(fqdn).indexOf(selected.host);
      if (!winner || rank < winner.rank) winner = { selected, rank };
    }
    if (winner) return winner.selected;
  }
  return pick(settings.rootNamespace);
}

function mostSpecificMatch(fqdn: string, rules: readonly DestinationRule[], clusterDomain: string): { host: string } | undefined {
  if (rules.length === 0) return undefined;
  const hosts = new Set(rules.map((rule) => resolvedHostOf(rule, clusterDomain)));
  const host = referenceMatchingPatterns(fqdn).find((pattern) => hosts.has(pattern));
  return host === undefined ? undefined : { host };
}

export function referenceCheckSubsets(
  references: readonly SubsetReference[],
  candidates: readonly DestinationRule[],
  namespace: string,
  settings: Settings,
): Problem[] {
  // A VirtualService may name the same host hundreds of times; selection
  // scans every candidate, so do it once per host.
  const byHost = new Map<string, { selected: SelectedDestinationRules | undefined; subsets: Set<string> }>();
  const messages = new Map<string, string>();
  const problems: Problem[] = [];
  for (const reference of references) {
    let entry = byHost.get(reference.host);
    if (!entry) {
      const selected = referenceSelect(reference.host, namespace, candidates, settings);
      entry = { selected, subsets: new Set(selected ? mergedSubsets(selected).keys() : []) };
      byHost.set(reference.host, entry);
    }
    if (entry.subsets.has(reference.subset)) continue;
    // Explaining a miss scans every candidate; junk input can repeat one miss many times.
    const key = `${reference.host}\n${reference.subset}`;
    let message = messages.get(key);
    if (message === undefined) {
      message = missingSubsetMessage(reference, entry.selected, candidates, namespace, settings);
      messages.set(key, message);
    }
    problems.push({ path: reference.path, kind: 'subset', message });
  }
  return problems;
}

function missingSubsetMessage(
  reference: SubsetReference,
  selected: SelectedDestinationRules | undefined,
  candidates: readonly DestinationRule[],
  namespace: string,
  settings: Settings,
): string {
  const host = show(reference.host);
  const head = `subset ${JSON.stringify(show(reference.subset))} of host ${host} is not defined`;
  const hint = elsewhereHint(reference, selected, candidates, namespace, settings);
  if (!selected) {
    const home = namespaceOfHost(reference.host, settings.clusterDomain) ?? namespace;
    return (
      `${head}; no DestinationRule visible from namespace ${show(namespace)} defines subsets for host ${host}; ` +
      `create one in namespace ${show(home)} for that host with a subset named ${JSON.stringify(show(reference.subset))}${hint}`
    );
  }
  // Only the rules Istio merged into the one it applies (src/rules/merge.ts).
  const names = (catchAll(consolidate(selected.rules))?.from ?? selected.rules).map(ruleName);
  const who = names.length === 1 ? `DestinationRule ${names[0]}` : `DestinationRules ${names.join(', ')} (merged)`;
  const where = selected.host === reference.host ? '' : ` (host ${show(selected.host)})`;
  const verb = names.length === 1 ? 'defines' : 'define';
  const defined = [...mergedSubsets(selected).keys()];
  const listed = defined.length === 0 ? 'no subsets' : listSubsets(defined);
  return `${head}; ${who}${where} ${verb} ${listed}${hint}`;
}

function listSubsets(names: readonly string[]): string {
  const shown = names.slice(0, MAX_LISTED_SUBSETS).map(show).join(', ');
  const more = names.length - MAX_LISTED_SUBSETS;
  return more > 0 ? `${shown} and ${more} more` : shown;
}

/**
 * When some rule the author can see in the cluster does define the subset but
 * Istio would not use it here, say why: that is the part people cannot guess.
 */
function elsewhereHint(
  reference: SubsetReference,
  selected: SelectedDestinationRules | undefined,
  candidates: readonly DestinationRule[],
  namespace: string,
  settings: Settings,
): string {
  const separate = selected && separateRuleHint(selected.rules, reference.subset, ruleName);
  if (separate) return `; ${separate}`;
  const chosen = new Set(selected?.rules ?? []);
  // The rule whose host is closest to the destination's (most specific pattern), then the first in candidate order.
  const definers = candidates.filter(
    (rule) =>
      !chosen.has(rule) &&
      hostMatches(resolvedHostOf(rule, settings.clusterDomain), reference.host) &&
      mergedSubsets({ host: '', namespace: '', rules: [rule] }).has(reference.subset),
  );
  const other = referenceMatchingPatterns(reference.host)
    .map((pattern) => definers.find((rule) => resolvedHostOf(rule, settings.clusterDomain) === pattern))
    .find((rule) => rule !== undefined);
  if (!other) return '';
  const name = `DestinationRule ${ruleName(other)}`;
  if (!isVisibleTo(other, namespace, settings.rootNamespace)) {
    return `; ${name} defines it but its exportTo does not include namespace ${show(namespace)}`;
  }
  if (selected) return `; ${name} defines it but ${ruleName(selected.rules[0])} takes precedence`;
  // Visible and matching, yet not selected with nothing else selected: it sits
  // in a namespace Istio does not consult for this host.
  return `; ${name} defines it but only rules in ${show(namespace)}, the service's namespace and ${show(settings.rootNamespace)} apply`;
}

function ruleName(rule: DestinationRule | undefined): string {
  return show(`${String(rule?.metadata?.namespace ?? '')}/${String(rule?.metadata?.name ?? '')}`);
}

function show(text: string): string {
  return singleLine(clip(text, 253));
}
