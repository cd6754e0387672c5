// Plain-object shapes the rules work on. Admission input is untrusted, so the
// rules accept `unknown` and narrow; these types describe what they produce.

export type JsonObject = { [key: string]: unknown };

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  [key: string]: unknown;
}

export interface Subset {
  name: string;
  labels?: Record<string, string>;
  [key: string]: unknown;
}

export interface DestinationRule {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta & { name: string; namespace: string };
  spec: {
    host: string;
    subsets?: Subset[];
    exportTo?: string[];
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** Names and defaults of SPEC §1, all configurable. */
export interface RuleSettings {
  clusterDomain: string;
  rootNamespace: string;
  optInLabel: string;
  versionAnnotation: string;
  serviceAnnotation: string;
  managedByLabel: string;
  managedByValue: string;
  /** Where sidecar injection is switched on: pod template label, annotation, or both. */
  injectMode: 'label' | 'annotation' | 'both';
  /** SPEC §2: keep webhook subsets in its own rule beside a user's (`companion`), or append to the user's rule (`append`, the old way). */
  subsetPlacement: 'companion' | 'append';
  /** SPEC §2 bound: subsets the webhook keeps in one DestinationRule. */
  maxSubsets: number;
  /** SPEC §3: `sum-100` (every guide's rule) or `proportional` (Istio >= 1.15's runtime). */
  weightPolicy: WeightPolicy;
  /**
   * `--istio-revision`: the pod template gets `istio.io/rev: <revision>`
   * instead of `sidecar.istio.io/inject` (revision-only installs ignore the
   * latter). Undefined: no revision label.
   */
  istioRevision?: string;
  /** SPEC §10: a routed subset with no ready pod is warned about, denied, or not looked at. */
  readyPolicy: 'warn' | 'deny' | 'off';
}

export type WeightPolicy = 'sum-100' | 'proportional';

export const defaultRuleSettings: RuleSettings = Object.freeze({
  clusterDomain: 'cluster.local',
  rootNamespace: 'istio-system',
  optInLabel: 'canary-webhook/enabled',
  versionAnnotation: 'canary-webhook/version',
  serviceAnnotation: 'canary-webhook/service',
  managedByLabel: 'app.kubernetes.io/managed-by',
  managedByValue: 'canary-webhook',
  injectMode: 'both',
  subsetPlacement: 'companion',
  maxSubsets: 64,
  weightPolicy: 'sum-100',
  istioRevision: undefined,
  readyPolicy: 'warn',
});

/** What a canary Deployment needs from the DestinationRule side (SPEC §2). */
export interface SubsetRequest {
  namespace: string;
  service: string;
  /** `<service>.<namespace>.svc.<cluster domain>` */
  host: string;
  subsetName: string;
  /** Always `{ version: <version as given> }`. */
  labels: Record<string, string>;
  /** The Deployment asking (its metadata.name), so the write's log line and Event can name it. */
  deployment?: string;
}

export type MutationOutcome =
  | { kind: 'skip'; reason: string }
  | { kind: 'deny'; message: string }
  | { kind: 'mutate'; mutated: JsonObject; subset: SubsetRequest; warnings: string[] };

export interface MutationContext {
  operation: 'CREATE' | 'UPDATE';
  /** `request.namespace`: kubectl often leaves `metadata.namespace` empty. */
  namespace: string;
  /** The stored object on UPDATE. */
  oldObject?: unknown;
  settings: RuleSettings;
  /** Labels of the Deployment's namespace (SPEC §2: the mesh decides how injection is spelled); undefined reads as unlabelled. */
  namespaceLabels?: Readonly<Record<string, string>>;
}

/** What to do to the namespace's DestinationRules so the subset exists. */
export type SubsetPlan =
  | { action: 'none'; destinationRule: DestinationRule; warnings: string[] }
  | { action: 'create'; destinationRule: DestinationRule; warnings: string[] }
  | {
      action: 'append';
      original: DestinationRule;
      updated: DestinationRule;
      warnings: string[];
      /** The subset already exists elsewhere: this write only drops the companion's copies of subsets a user rule now defines. */
      present?: boolean;
    }
  /** The companion would hold nothing a user rule does not define: remove it (the subset exists). */
  | { action: 'delete'; original: DestinationRule; warnings: string[] }
  /** Over `--max-subsets`: deny the Deployment with `reason`. */
  | { action: 'refuse'; reason: string; warnings: string[] };

export interface Problem {
  /** JSON path of the offending node, e.g. `spec.http[1].route`. */
  path: string;
  message: string;
  /** Missing-subset problems are the only ones a fresher read can cure. */
  kind: 'shape' | 'weight' | 'subset' | 'host' | 'ready';
}

export interface ValidationResult {
  /** The first MAX_PROBLEM_LINES problems in document (path) order: what a denial shows. */
  problems: Problem[];
  /** All problems, shown or not. */
  problemCount: number;
  warnings: string[];
}

export interface ValidationContext {
  /** `request.namespace` of the VirtualService. */
  namespace: string;
  settings: RuleSettings;
}
