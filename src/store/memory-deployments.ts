// Standalone mode's one record of the Deployments that exist: seeded from
// --seed-dir, then kept current by what /mutate and /guard admit (there are
// no watches). The guard (is this the last Deployment backing a routed
// subset? SPEC §9) and the readiness check (does a routed subset have a
// Deployment asking for replicas > 0? SPEC §10) both read it, so a DELETE or
// a scale to 0 that one of them saw, the other sees too.
import { workloadOf, type WorkloadTemplate } from '../rules/readiness.js';
import type { RuleSettings } from '../rules/types.js';
import type { DeploymentObject } from './routing.js';

/** Deployments remembered at most: past it the oldest admission is forgotten first. */
export const MAX_DEPLOYMENTS = 10_000;
/**
 * Characters of pod template labels remembered in all (keys and values):
 * 10,000 Deployments of 3 MiB of labels each would be 30 GiB, so past this
 * the oldest admissions are forgotten too, whatever their count.
 */
export const MAX_LABEL_CHARS = 32 * 1024 * 1024;

/**
 * All either feature reads of a Deployment: the service it backs (SPEC §2's
 * rule, resolved once at admission), its pod template labels and replicas.
 * Its other labels, annotations and containers are not kept.
 */
export interface RememberedDeployment extends WorkloadTemplate {
  name: string;
  service: string;
  /** Label characters, for MAX_LABEL_CHARS. */
  labelChars: number;
}

export class MemoryDeployments {
  /** `namespace/name` → entry; Map order is admission order, so the first key is the oldest. */
  private readonly entries = new Map<string, RememberedDeployment>();
  /** The same entries by namespace: both features ask about one namespace at a time. */
  private readonly byNamespace = new Map<string, Map<string, RememberedDeployment>>();
  private labelChars = 0;

  constructor(
    private readonly settings: RuleSettings,
    private readonly limits: { maxDeployments: number; maxLabelChars: number } = { maxDeployments: MAX_DEPLOYMENTS, maxLabelChars: MAX_LABEL_CHARS },
  ) {}

  /**
   * Remember a created or updated Deployment as the newest. One that backs no
   * service (no `app` label nor service annotation, or a shape the rules
   * cannot read) matters to neither feature: an older entry of that name is
   * forgotten and nothing is kept.
   */
  upsert(deployment: unknown, namespace: string): void {
    const name = (deployment as { metadata?: { name?: unknown } } | null)?.metadata?.name;
    if (typeof name !== 'string' || name === '' || namespace === '') return;
    this.delete(namespace, name);
    const workload = workloadOf(deployment, namespace, this.settings);
    if (!workload || workload.service === undefined) return;
    let labelChars = 0;
    for (const key in workload.labels) labelChars += key.length + workload.labels[key]!.length;
    // Frozen: both views hand out this one labels object.
    const entry: RememberedDeployment = { name, namespace, service: workload.service, labels: Object.freeze(workload.labels) as Record<string, string>, replicas: workload.replicas, labelChars };
    const key = keyOf(namespace, name);
    this.entries.set(key, entry);
    let inNamespace = this.byNamespace.get(namespace);
    if (!inNamespace) this.byNamespace.set(namespace, (inNamespace = new Map()));
    inNamespace.set(key, entry);
    this.labelChars += labelChars;
    // The newest entry stays even when it alone is over the label budget: it is what was just admitted.
    while (this.entries.size > 1 && (this.entries.size > this.limits.maxDeployments || this.labelChars > this.limits.maxLabelChars)) {
      const oldest = this.entries.values().next().value!;
      this.delete(oldest.namespace, oldest.name);
    }
  }

  delete(namespace: string, name: string): void {
    const key = keyOf(namespace, name);
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.labelChars -= entry.labelChars;
    const inNamespace = this.byNamespace.get(namespace);
    inNamespace?.delete(key);
    if (inNamespace?.size === 0) this.byNamespace.delete(namespace);
  }

  /** The readiness check's view of a namespace. */
  workloadsIn(namespace: string): Iterable<WorkloadTemplate> {
    return this.byNamespace.get(namespace)?.values() ?? [];
  }

  /**
   * The guard's view of a namespace, as Deployment objects its rule reads.
   * The resolved service travels in the service annotation, the first source
   * SPEC §2's rule reads, so the guard finds the same service the readiness
   * check counts under.
   */
  deploymentsIn(namespace: string): DeploymentObject[] {
    const result: DeploymentObject[] = [];
    for (const entry of this.byNamespace.get(namespace)?.values() ?? []) {
      result.push({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: entry.name, namespace, annotations: { [this.settings.serviceAnnotation]: entry.service } },
        // The rule's reader wants a selector present; subsets are matched against template labels.
        spec: { replicas: entry.replicas, selector: {}, template: { metadata: { labels: entry.labels } } },
      });
    }
    return result;
  }

  size(): number {
    return this.entries.size;
  }
}

const keyOf = (namespace: string, name: string): string => `${namespace}/${name}`;
