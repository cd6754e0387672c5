// SPEC §3 subset rule: every named subset must be defined by the
// DestinationRule Istio would apply (SPEC §4), and a denial must say what
// exists instead and how to fix it.
import { hostMatches, isVisibleTo, mergedSubsets, namespaceOfHost, resolvedHostOf, selectDestinationRules, type SelectedDestinationRules } from './hosts.js';
import { catchAll, consolidate, separateRuleHint } from './merge.js';
import type { DestinationRule, Problem, RuleSettings } from './types.js';
import { clip, singleLine } from './text.js';

export interface SubsetReference {
  /** `spec.http[0].route[1]`, `spec.http[0].mirror`, `spec.http[0].mirrors[2].destination`... */
  path: string;
  /** Resolved FQDN. */
  host: string;
  subset: string;
}

type Settings = Pick<RuleSettings, 'clusterDomain' | 'rootNamespace'>;

/** Names listed in a denial before it says how many more there are. */
const MAX_LISTED_SUBSETS = 10;

export function checkSubsets(
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
      const selected = selectDestinationRules(reference.host, namespace, candidates, settings);
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
  const other = candidates.find(
    (rule) =>
      !chosen.has(rule) &&
      hostMatches(resolvedHostOf(rule, settings.clusterDomain), reference.host) &&
      mergedSubsets({ host: '', namespace: '', rules: [rule] }).has(reference.subset),
  );
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

/** Input text inside a denial: bounded (a DNS name is at most 253) and on one line. */
function show(text: string): string {
  return singleLine(clip(text, 253));
}
