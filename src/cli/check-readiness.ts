// SPEC §10 offline: the Deployments in the input stand for pods (a subset is
// "ready" when a matching Deployment asks for replicas > 0). Only services
// with at least one Deployment in the input are judged: a CI check of routing
// files alone says nothing about workloads it cannot see.
import type { ManifestObject } from '../manifests/objects.js';
import { labelSelectorOf, readinessFindings, readinessQueries, summarizeWorkloads, workloadOf, type WorkloadTemplate } from '../rules/readiness.js';
import type { DestinationRule, Problem, RuleSettings } from '../rules/types.js';

export function isService(item: ManifestObject): boolean {
  return item.kind === 'Service' && item.apiVersion === 'v1';
}

export class InputWorkloads {
  private readonly workloads: WorkloadTemplate[] = [];
  /** `namespace/name` → the Service's selector; null for one without (hand-managed endpoints). */
  private readonly selectors = new Map<string, Record<string, string> | null>();

  constructor(private readonly settings: RuleSettings) {}

  /** A Deployment as it would run: for a canary one, after the webhook's edits. */
  addDeployment(deployment: unknown, namespace: string): void {
    const workload = workloadOf(deployment, namespace, this.settings);
    if (workload) this.workloads.push(workload);
  }

  addService(item: ManifestObject, namespace: string): void {
    if (item.name === undefined) return;
    const selector = labelSelectorOf((item.object.spec as { selector?: unknown } | undefined)?.selector);
    this.selectors.set(`${namespace}/${item.name}`, selector && Object.keys(selector).length > 0 ? selector : null);
  }

  findings(virtualService: unknown, namespace: string, rules: readonly DestinationRule[]): { problems: Problem[]; problemCount: number; warnings: string[] } {
    if (this.workloads.length === 0 || this.settings.readyPolicy === 'off') return { problems: [], problemCount: 0, warnings: [] };
    const queries = readinessQueries(virtualService, namespace, () => rules, this.settings).filter((query) => {
      const selector = this.selectors.get(`${query.namespace}/${query.service}`);
      if (selector === null) return false;
      return summarizeWorkloads(this.workloads, { ...query, labels: {} }, selector).matching > 0;
    });
    return readinessFindings(
      queries,
      (query) => summarizeWorkloads(this.workloads, query, this.selectors.get(`${query.namespace}/${query.service}`) ?? undefined),
      this.settings.readyPolicy,
    );
  }
}
