// The rules a review sees for a host, grouped once and kept between reviews.
// A store answers a host with a frozen list that is the same array until the
// rules change (src/store/host-index.ts), so grouping can hang off that
// array: 8,000 hosts of one review then cost 8,000 map hits, not a regroup
// of 8,000 rules per review. When several host patterns cover a name (its
// own rule and the `*` of 2,000 namespaces), the store's answer is composed
// of the per-pattern lists, and each of those is grouped once and shared by
// every host it covers: grouping the concatenation per host would be
// hosts × rules (4,000 × 2,001 ran a 192 MB heap out of memory).
import { mergedSubsets, selectAmong, VisibleRules, type SelectedDestinationRules } from './hosts.js';
import type { MergedSubset } from './merge.js';
import type { DestinationRule, RuleSettings } from './types.js';

type Settings = Pick<RuleSettings, 'clusterDomain' | 'rootNamespace'>;

export interface HostAnswer {
  selected: SelectedDestinationRules | undefined;
  /** Subset names Istio sees for the host, in merge order. */
  subsets: readonly string[];
  defined: ReadonlySet<string>;
  /** The subsets with the rule each comes from and its labels (src/rules/merge.ts). */
  merged: ReadonlyMap<string, MergedSubset>;
}

/** The candidates for some hosts, seen from one namespace. */
export interface RuleView {
  /** One view per host pattern, most specific first (or one view of every candidate). */
  readonly parts: readonly VisibleRules[];
  select(fqdn: string): SelectedDestinationRules | undefined;
}

class ComposedRules implements RuleView {
  constructor(
    readonly parts: readonly VisibleRules[],
    private readonly fromNamespace: string,
    private readonly settings: Settings,
  ) {}

  select(fqdn: string): SelectedDestinationRules | undefined {
    return selectAmong(this.parts, fqdn, this.fromNamespace, this.settings);
  }
}

const composedParts = new WeakMap<readonly DestinationRule[], ReadonlyArray<readonly DestinationRule[]>>();

/**
 * A store's answer for a host matched by several patterns: the frozen
 * concatenation of `lists` (each frozen, one pattern's rules in Istio's
 * order, most specific pattern first), which remembers its parts.
 */
export function composedCandidates(lists: ReadonlyArray<readonly DestinationRule[]>): readonly DestinationRule[] {
  const all = Object.freeze(lists.flat());
  composedParts.set(all, Object.freeze([...lists]));
  return all;
}

/** Hosts one view remembers answers for (a `*` rule's view is asked about every external host). */
const MAX_ANSWERS_PER_VIEW = 256;
const MAX_DNS_NAME_LENGTH = 253;
/** Namespaces one candidate list keeps a view for. */
const MAX_VIEWS_PER_CANDIDATES = 64;

const views = new WeakMap<readonly DestinationRule[], { settingsKey: string; byNamespace: Map<string, RuleView> }>();
const answers = new WeakMap<RuleView, Map<string, HostAnswer>>();

/**
 * The view of `candidates` from `fromNamespace`, kept with `candidates` when
 * that list is frozen (a store's answer: it never changes; a change of the
 * rules makes a new list). An unfrozen list is grouped afresh.
 */
export function ruleViewOf(candidates: readonly DestinationRule[], fromNamespace: string, settings: Settings): RuleView {
  if (!Object.isFrozen(candidates)) return new VisibleRules(candidates, fromNamespace, settings);
  const settingsKey = `${settings.clusterDomain}\n${settings.rootNamespace}`;
  let memo = views.get(candidates);
  if (!memo || memo.settingsKey !== settingsKey) views.set(candidates, (memo = { settingsKey, byNamespace: new Map() }));
  let view = memo.byNamespace.get(fromNamespace);
  if (!view) {
    const parts = composedParts.get(candidates);
    view = parts ? new ComposedRules(parts.map((part) => ruleViewOf(part, fromNamespace, settings) as VisibleRules), fromNamespace, settings) : new VisibleRules(candidates, fromNamespace, settings);
    if (memo.byNamespace.size < MAX_VIEWS_PER_CANDIDATES) memo.byNamespace.set(fromNamespace, view);
  }
  return view;
}

/** The rules Istio applies to `fqdn` and the subsets they define, remembered with the view. */
export function answerOf(view: RuleView, fqdn: string): HostAnswer {
  let known = answers.get(view);
  const cached = known?.get(fqdn);
  if (cached) return cached;
  const selected = view.select(fqdn);
  const merged = selected ? mergedSubsets(selected) : new Map<string, MergedSubset>();
  const subsets = [...merged.keys()];
  const answer: HostAnswer = { selected, subsets, defined: new Set(subsets), merged };
  if (!known) answers.set(view, (known = new Map()));
  if (known.size < MAX_ANSWERS_PER_VIEW && fqdn.length <= MAX_DNS_NAME_LENGTH) known.set(fqdn, answer);
  return answer;
}

/**
 * The view for each host of one review: from a list, that list's view; from
 * a lookup, the view of its answer. Answers are also remembered by identity
 * for this review, so a lookup that returns the same unfrozen list for every
 * host (an offline caller's rules) is grouped once, not once per host.
 */
export function viewsFor(source: readonly DestinationRule[] | ((host: string) => readonly DestinationRule[]), fromNamespace: string, settings: Settings): (host: string) => RuleView {
  if (typeof source !== 'function') {
    const view = ruleViewOf(source, fromNamespace, settings);
    return () => view;
  }
  const seen = new Map<readonly DestinationRule[], RuleView>();
  return (host) => {
    const candidates = source(host);
    let view = seen.get(candidates);
    if (!view) seen.set(candidates, (view = ruleViewOf(candidates, fromNamespace, settings)));
    return view;
  };
}
