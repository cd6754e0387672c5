// SPEC §3 subset rule: every named subset must be defined by the
// DestinationRule Istio would apply (SPEC §4), and a denial must say what
// exists instead and how to fix it.
import { hostPatterns } from './host-patterns.js';
import { mergedSubsets, namespaceOfHost, type ResolvedRule, type SelectedDestinationRules, type VisibleRules } from './hosts.js';
import { answerOf, viewsFor, type HostAnswer, type RuleView } from './rule-views.js';
import type { SubsetPair } from './reference-table.js';
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

/** The candidates themselves, or a lookup by resolved host (a store's host index). */
export type RuleSource = readonly DestinationRule[] | ((host: string) => readonly DestinationRule[]);

/** A missing subset's explanation, worded only when a denial shows it (it reads the rules again). */
export type Explanation = () => string;

/**
 * Per pair: undefined when Istio would find the subset for the host, else
 * the explanation of the miss. `skip` pairs are not looked at (undefined).
 * Each distinct host costs its own labels, whatever the number of rules:
 * with a lookup, a host's rules come grouped from ruleViewOf (kept
 * between reviews); with a list, the list is grouped once.
 */
export function missingSubsets(
  pairs: readonly SubsetPair[],
  source: RuleSource,
  namespace: string,
  settings: Settings,
  skip?: ReadonlySet<number>,
): Array<Explanation | undefined> {
  const viewOf = viewsFor(source, namespace, settings);
  return pairs.map(({ host, subset }, index) => {
    if (skip?.has(index)) return undefined;
    const view = viewOf(host);
    const answer = answerOf(view, host);
    if (answer.defined.has(subset)) return undefined;
    let message: string | undefined;
    return () => (message ??= missingSubsetMessage({ host, subset }, answer, view, namespace, settings));
  });
}

/** Problems of the references that name a subset Istio would not find, messages worded. */
export function checkSubsets(references: readonly SubsetReference[], candidates: RuleSource, namespace: string, settings: Settings): Problem[] {
  const pairs: SubsetPair[] = [];
  const indexByKey = new Map<string, number>();
  const pairOf = references.map(({ host, subset }) => {
    const key = `${host}\n${subset}`;
    let index = indexByKey.get(key);
    if (index === undefined) indexByKey.set(key, (index = pairs.push({ host, subset }) - 1));
    return index;
  });
  const missing = missingSubsets(pairs, candidates, namespace, settings);
  const problems: Problem[] = [];
  references.forEach((reference, position) => {
    const explain = missing[pairOf[position]!];
    if (explain) problems.push({ path: reference.path, kind: 'subset', message: explain() });
  });
  return problems;
}

const definers = new WeakMap<VisibleRules, Definers>();

/** The first candidate of `view` (in its parts' order) covering `fqdn` that defines `subset` and is not `chosen`. */
function firstDefiner(view: RuleView, fqdn: string, subset: string, chosen: ReadonlySet<DestinationRule>): ResolvedRule | undefined {
  for (const part of view.parts) {
    let known = definers.get(part);
    if (!known) definers.set(part, (known = new Definers(part)));
    const found = known.first(fqdn, subset, chosen);
    if (found) return found;
  }
  return undefined;
}

/**
 * Which candidates (visible or not) define which subset, by resolved host,
 * filled in per host pattern on the first miss that asks about it: explaining
 * a miss looks up the host's patterns instead of scanning every candidate,
 * and a `*` held by 2,000 namespaces is indexed once per review, not per host.
 */
/** Rules of one host looked at one by one rather than indexed by subset. */
const SCAN_LIMIT = 16;

/** Does this one rule define `subset` (a non-empty name), as mergedSubsets of it alone would say? */
function defines(rule: DestinationRule, subset: string): boolean {
  const list: unknown = rule.spec?.subsets;
  return Array.isArray(list) && list.some((entry: unknown) => typeof entry === 'object' && entry !== null && (entry as { name?: unknown }).name === subset);
}

class Definers {
  private readonly byHost = new Map<string, Map<string, number[]>>();

  constructor(private readonly rules: VisibleRules) {}

  /**
   * The candidate whose host is the most specific pattern covering `fqdn`
   * (then the first in candidate order) that defines `subset` and is not
   * `chosen`: the rule closest to the destination, whichever way the
   * candidates were gathered (one list, or a store's answer per pattern).
   */
  first(fqdn: string, subset: string, chosen: ReadonlySet<DestinationRule>): ResolvedRule | undefined {
    for (const pattern of hostPatterns(fqdn, this.rules.everyWildcardLength)) {
      const all = this.rules.everyByHost.get(pattern);
      if (!all) continue;
      // A few rules (an exact host): look at them. Many (`*` in 2,000 namespaces): index them once.
      const positions = all.length <= SCAN_LIMIT ? all.filter((candidate) => defines(this.rules.resolved[candidate]!.rule, subset)) : this.subsetsOf(pattern)?.get(subset);
      const position = positions?.find((candidate) => !chosen.has(this.rules.resolved[candidate]!.rule));
      if (position !== undefined) return this.rules.resolved[position];
    }
    return undefined;
  }

  private subsetsOf(host: string): Map<string, number[]> | undefined {
    const known = this.byHost.get(host);
    if (known) return known;
    const positions = this.rules.everyByHost.get(host);
    if (!positions) return undefined;
    const bySubset = new Map<string, number[]>();
    for (const position of positions) {
      const { rule } = this.rules.resolved[position]!;
      for (const name of mergedSubsets({ host: '', namespace: '', rules: [rule] }).keys()) {
        const list = bySubset.get(name);
        if (list) list.push(position);
        else bySubset.set(name, [position]);
      }
    }
    this.byHost.set(host, bySubset);
    return bySubset;
  }
}

function missingSubsetMessage(
  reference: SubsetPair,
  answer: HostAnswer,
  view: RuleView,
  namespace: string,
  settings: Settings,
): string {
  const { selected } = answer;
  const host = show(reference.host);
  const head = `subset ${JSON.stringify(show(reference.subset))} of host ${host} is not defined`;
  const hint = elsewhereHint(reference, selected, view, namespace, settings);
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
  const listed = answer.subsets.length === 0 ? 'no subsets' : listSubsets(answer.subsets);
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
  reference: SubsetPair,
  selected: SelectedDestinationRules | undefined,
  view: RuleView,
  namespace: string,
  settings: Settings,
): string {
  const separate = selected && separateRuleHint(selected.rules, reference.subset, ruleName);
  if (separate) return `; ${separate}`;
  const other = firstDefiner(view, reference.host, reference.subset, new Set(selected?.rules ?? []));
  if (!other) return '';
  const name = `DestinationRule ${ruleName(other.rule)}`;
  if (!other.visible) {
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
