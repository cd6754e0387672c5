// The DestinationRules offline mode reasons about: cluster, `--with` files and
// the input, each later source overriding an earlier one of the same
// namespace/name (as a later `kubectl apply` would), plus whatever the
// webhook would create or append for the canary Deployments seen so far.
import type { ManifestObject } from '../manifests/objects.js';
import { resolvedHostOf } from '../rules/hosts.js';
import { planSubset } from '../rules/subset-plan.js';
import type { DestinationRule, RuleSettings, SubsetPlan, SubsetRequest } from '../rules/types.js';

export type RuleOrigin = 'cluster' | 'with' | 'input' | 'created';

export interface RuleEntry {
  key: string;
  origin: RuleOrigin;
  /** Where it was read; undefined for cluster and created rules. */
  source: ManifestObject | undefined;
  /** As read, with the namespace filled in. */
  original: DestinationRule;
  /** After every subset ensured so far. */
  current: DestinationRule;
  /** The first canary Deployment that needed it: `inject` prints rules that are not in the input after it. */
  firstUser: ManifestObject | undefined;
  /** The webhook would delete it (a companion whose subsets user rules now all define). */
  deleted?: boolean;
}

export class DestinationRuleSet {
  private readonly entries = new Map<string, RuleEntry>();

  constructor(private readonly settings: RuleSettings) {}

  /** Add a rule; returns the entry it replaced, if any. */
  add(rule: DestinationRule, origin: RuleOrigin, source?: ManifestObject): RuleEntry | undefined {
    const key = `${rule.metadata.namespace}/${rule.metadata.name}`;
    const replaced = this.entries.get(key);
    // Delete first so the map's order is the order rules took effect.
    this.entries.delete(key);
    this.entries.set(key, { key, origin, source, original: rule, current: rule, firstUser: undefined });
    return replaced;
  }

  rules(): DestinationRule[] {
    return [...this.entries.values()].filter((entry) => !entry.deleted).map((entry) => entry.current);
  }

  all(): RuleEntry[] {
    return [...this.entries.values()];
  }

  /**
   * Apply what the webhook would do for `user`'s subset to the working set.
   * The planner gets every rule, the root namespace's included, as the stores'
   * host index hands them over: the same placement offline and in a cluster.
   */
  ensureSubset(request: SubsetRequest, user: ManifestObject): { plan: SubsetPlan; entry: RuleEntry | undefined } {
    const live = [...this.entries.values()].filter((entry) => !entry.deleted).map((entry) => entry.current);
    const plan = planSubset(request, live, this.settings);
    let entry: RuleEntry | undefined;
    if (plan.action === 'refuse') return { plan, entry: undefined };
    if (plan.action === 'create') {
      this.add(plan.destinationRule, 'created');
      entry = this.find(plan.destinationRule);
    } else if (plan.action === 'append') {
      entry = this.find(plan.original);
      if (entry) entry.current = plan.updated;
    } else if (plan.action === 'delete') {
      entry = this.find(plan.original);
      if (entry) entry.deleted = true;
    } else {
      entry = this.find(plan.destinationRule);
    }
    if (!entry) throw new Error(`planSubset answered with a DestinationRule it was not given (${request.host})`);
    entry.firstUser ??= user;
    return { plan, entry };
  }

  /** `ns/name (origin)` of the rules that already exist for the request's host in its namespace. */
  existingFor(request: SubsetRequest): string[] {
    return [...this.entries.values()]
      .filter((entry) => entry.origin !== 'created' && !entry.deleted && entry.current.metadata.namespace === request.namespace)
      .filter((entry) => resolvedHostOf(entry.current, this.settings.clusterDomain) === request.host.toLowerCase())
      .map((entry) => `${entry.key} (${entry.origin === 'with' ? '--with' : entry.origin})`);
  }

  private find(rule: DestinationRule): RuleEntry | undefined {
    return [...this.entries.values()].find((entry) => entry.current === rule);
  }
}
