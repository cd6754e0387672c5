// SPEC §3 subset rule: every named subset must be defined by the
// DestinationRule Istio would apply (SPEC §4), and a denial must say what
// exists instead and how to fix it.
import { hostPatterns } from './host-patterns.js';
import { mergedSubsets, namespaceOfHost, VisibleRules, type ResolvedRule, type SelectedDestinationRules } from './hosts.js';
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
  // Grouped once; then each distinct host costs its own labels, whatever the
  // number of candidates (the quadratic step issue 10 measured at 8.3 s).
  const rules = new VisibleRules(candidates, namespace, settings);
  const byHost = new Map<string, HostAnswer>();
  let definers: Definers | undefined;
  const problems: Problem[] = [];
  for (const reference of references) {
    let answer = byHost.get(reference.host);
    if (!answer) {
      const selected = rules.select(reference.host);
      const subsets = selected ? [...mergedSubsets(selected).keys()] : [];
      answer = { selected, subsets, defined: new Set(subsets), messages: new Map() };
      byHost.set(reference.host, answer);
    }
    if (answer.defined.has(reference.subset)) continue;
    // One explanation per host and subset, however often junk input repeats the miss.
    let message = answer.messages.get(reference.subset);
    if (message === undefined) {
      definers ??= new Definers(rules);
      message = missingSubsetMessage(reference, answer, definers, namespace, settings);
      answer.messages.set(reference.subset, message);
    }
    problems.push({ path: reference.path, kind: 'subset', message });
  }
  return problems;
}

interface HostAnswer {
  selected: SelectedDestinationRules | undefined;
  /** Subset names Istio sees for the host, in merge order. */
  subsets: string[];
  defined: ReadonlySet<string>;
  /** Denial text by missing subset name. */
  messages: Map<string, string>;
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

  /** The first candidate, in candidate order, whose host covers `fqdn`, that defines `subset` and is not `chosen`. */
  first(fqdn: string, subset: string, chosen: ReadonlySet<DestinationRule>): ResolvedRule | undefined {
    let best: number | undefined;
    for (const pattern of hostPatterns(fqdn, this.rules.everyWildcardLength)) {
      const all = this.rules.everyByHost.get(pattern);
      if (!all) continue;
      // A few rules (an exact host): look at them. Many (`*` in 2,000 namespaces): index them once.
      const positions = all.length <= SCAN_LIMIT ? all.filter((candidate) => defines(this.rules.resolved[candidate]!.rule, subset)) : this.subsetsOf(pattern)?.get(subset);
      const position = positions?.find((candidate) => !chosen.has(this.rules.resolved[candidate]!.rule));
      if (position !== undefined && (best === undefined || position < best)) best = position;
    }
    return best === undefined ? undefined : this.rules.resolved[best];
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
  reference: SubsetReference,
  answer: HostAnswer,
  definers: Definers,
  namespace: string,
  settings: Settings,
): string {
  const { selected } = answer;
  const host = show(reference.host);
  const head = `subset ${JSON.stringify(show(reference.subset))} of host ${host} is not defined`;
  const hint = elsewhereHint(reference, selected, definers, namespace, settings);
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
  reference: SubsetReference,
  selected: SelectedDestinationRules | undefined,
  definers: Definers,
  namespace: string,
  settings: Settings,
): string {
  const separate = selected && separateRuleHint(selected.rules, reference.subset, ruleName);
  if (separate) return `; ${separate}`;
  const other = definers.first(reference.host, reference.subset, new Set(selected?.rules ?? []));
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
