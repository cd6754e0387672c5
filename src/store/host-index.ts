// DestinationRules indexed by resolved host (SPEC §4), so a lookup costs the
// number of labels in the name, not the number of rules: 10 or 10,000 rules
// cost the same. Both stores (memory, Kubernetes cache) keep their rules here.
import { hostPatterns, wildcardLength } from '../rules/host-patterns.js';
import { resolvedHostOf } from '../rules/hosts.js';
import { composedCandidates } from '../rules/rule-views.js';
import type { DestinationRule } from '../rules/types.js';

interface Entry {
  rule: DestinationRule;
  host: string;
}

const keyOf = (namespace: string, name: string): string => `${namespace}/${name}`;

/**
 * Answers kept between changes (every review asks the same few hosts), so a
 * lookup is one Map hit instead of building the wildcard patterns and
 * sorting. Any change clears them; hosts come from untrusted input, so the
 * memo is bounded too.
 */
const MAX_MEMO_ENTRIES = 4_096;
/** Longer names are answered but not remembered: a DNS name is at most 253 characters. */
const MAX_MEMO_KEY_LENGTH = 253;

export class HostIndex {
  /** namespace/name → rule and its resolved host. */
  private readonly entries = new Map<string, Entry>();
  /** resolved host (or wildcard pattern) → namespace/name → rule. */
  private readonly byHost = new Map<string, Map<string, DestinationRule>>();
  /** Length of each `*.…` host held → how many rules have a host of that length: lookups build no other suffix. */
  private readonly wildcardLengths = new Map<number, number>();
  /** resolved host → its rules in Istio's order, sorted once per change of that host. */
  private readonly sortedByHost = new Map<string, readonly DestinationRule[]>();
  /** namespace → names, for per-namespace reads and replacement. */
  private readonly byNamespace = new Map<string, Set<string>>();
  /** candidatesForHost answers since the last change, by the host as asked. */
  private readonly hostMemo = new Map<string, readonly DestinationRule[]>();
  /** inNamespace answers since the last change. */
  private readonly namespaceMemo = new Map<string, readonly DestinationRule[]>();

  constructor(private readonly clusterDomain: string) {}

  size(): number {
    return this.entries.size;
  }

  get(namespace: string, name: string): DestinationRule | undefined {
    return this.entries.get(keyOf(namespace, name))?.rule;
  }

  /** Insert or replace by namespace/name. Objects without a name or namespace are ignored. */
  upsert(rule: DestinationRule): void {
    const namespace = rule?.metadata?.namespace;
    const name = rule?.metadata?.name;
    if (typeof namespace !== 'string' || typeof name !== 'string' || namespace === '' || name === '') return;
    const key = keyOf(namespace, name);
    this.removeKey(key);
    this.changed();
    const host = resolvedHostOf(rule, this.clusterDomain);
    this.entries.set(key, { rule, host });
    let hostRules = this.byHost.get(host);
    if (!hostRules) this.byHost.set(host, (hostRules = new Map()));
    hostRules.set(key, rule);
    this.sortedByHost.delete(host);
    const length = wildcardLength(host);
    if (length !== undefined) this.wildcardLengths.set(length, (this.wildcardLengths.get(length) ?? 0) + 1);
    let names = this.byNamespace.get(namespace);
    if (!names) this.byNamespace.set(namespace, (names = new Set()));
    names.add(name);
  }

  delete(namespace: string, name: string): boolean {
    return this.removeKey(keyOf(namespace, name));
  }

  /** Rules of one namespace, ordered by name (a shared, frozen answer: copy before changing it). */
  inNamespace(namespace: string): readonly DestinationRule[] {
    const memo = this.namespaceMemo.get(namespace);
    if (memo) return memo;
    const names = this.byNamespace.get(namespace);
    const rules = Object.freeze(names ? [...names].sort().map((name) => this.entries.get(keyOf(namespace, name))!.rule) : []);
    remember(this.namespaceMemo, namespace, rules);
    return rules;
  }

  namespaces(): string[] {
    return [...this.byNamespace.keys()];
  }

  /** Every rule, ordered by namespace then name. */
  all(): DestinationRule[] {
    return [...this.byNamespace.keys()].sort().flatMap((namespace) => this.inNamespace(namespace));
  }

  /** Make `namespace` hold exactly `rules` (a fresh read of that namespace). */
  replaceNamespace(namespace: string, rules: readonly DestinationRule[]): void {
    for (const name of [...(this.byNamespace.get(namespace) ?? [])]) this.removeKey(keyOf(namespace, name));
    for (const rule of rules) if (rule?.metadata?.namespace === namespace) this.upsert(rule);
  }

  /** Make the index hold exactly `rules` (a relist). */
  replaceAll(rules: readonly DestinationRule[]): void {
    this.entries.clear();
    this.byHost.clear();
    this.sortedByHost.clear();
    this.wildcardLengths.clear();
    this.byNamespace.clear();
    this.changed();
    for (const rule of rules) this.upsert(rule);
  }

  /**
   * Rules, in any namespace, whose resolved host is `fqdn` or a wildcard that
   * covers it: most specific host first, and within one host in Istio's
   * order (creation time, then name, then namespace), which decides whose
   * subset wins when same-host rules are merged. A shared, frozen answer.
   */
  candidatesForHost(fqdn: string): readonly DestinationRule[] {
    const memo = this.hostMemo.get(fqdn);
    if (memo) return memo;
    // Lazily, and only at the lengths of wildcard hosts held: a lookup costs
    // one pass over the name, however many labels it has.
    const lists: Array<readonly DestinationRule[]> = [];
    for (const pattern of hostPatterns(fqdn.trim().toLowerCase(), this.wildcardLengths)) {
      const sorted = this.sortedFor(pattern);
      if (sorted) lists.push(sorted);
    }
    // One matching host (the usual case) shares that host's list, so reviews
    // naming many hosts covered by the same `*` rules see the same array.
    const answer = lists.length === 1 ? lists[0]! : composedCandidates(lists);
    if (fqdn.length <= MAX_MEMO_KEY_LENGTH) remember(this.hostMemo, fqdn, answer);
    return answer;
  }

  private sortedFor(host: string): readonly DestinationRule[] | undefined {
    const cached = this.sortedByHost.get(host);
    if (cached) return cached;
    const hostRules = this.byHost.get(host);
    if (!hostRules) return undefined;
    const sorted = Object.freeze([...hostRules.values()].sort(istioOrder));
    this.sortedByHost.set(host, sorted);
    return sorted;
  }

  private changed(): void {
    this.hostMemo.clear();
    this.namespaceMemo.clear();
  }

  private removeKey(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.changed();
    this.entries.delete(key);
    const hostRules = this.byHost.get(entry.host);
    hostRules?.delete(key);
    if (hostRules?.size === 0) this.byHost.delete(entry.host);
    this.sortedByHost.delete(entry.host);
    const length = wildcardLength(entry.host);
    if (length !== undefined) {
      const count = (this.wildcardLengths.get(length) ?? 0) - 1;
      if (count > 0) this.wildcardLengths.set(length, count);
      else this.wildcardLengths.delete(length);
    }
    const { namespace, name } = entry.rule.metadata;
    const names = this.byNamespace.get(namespace);
    names?.delete(name);
    if (names?.size === 0) this.byNamespace.delete(namespace);
    return true;
  }
}

function remember<T>(memo: Map<string, T>, key: string, value: T): void {
  if (memo.size >= MAX_MEMO_ENTRIES) memo.clear();
  memo.set(key, value);
}

/** pilot's sortConfigByCreationTime: oldest first, then name, then namespace. */
function istioOrder(a: DestinationRule, b: DestinationRule): number {
  const ta = timeOf(a);
  const tb = timeOf(b);
  if (ta !== tb) return ta - tb;
  if (a.metadata.name !== b.metadata.name) return a.metadata.name < b.metadata.name ? -1 : 1;
  if (a.metadata.namespace !== b.metadata.namespace) return a.metadata.namespace < b.metadata.namespace ? -1 : 1;
  return 0;
}

function timeOf(rule: DestinationRule): number {
  const stamp = rule.metadata.creationTimestamp;
  const ms = typeof stamp === 'string' ? Date.parse(stamp) : Number.NaN;
  return Number.isNaN(ms) ? 0 : ms;
}
