// The ValidatingAdmissionPolicy and its two bindings that `canary-webhook
// policy` prints and deploy/base ships (SPEC §8, §11). Plain objects; the CLI
// turns them into YAML.
import type { WeightPolicy } from '../rules/types.js';
import { weightCel } from './weights-cel.js';

export interface PolicyOptions {
  weightPolicy: WeightPolicy;
  /** The webhook's own namespace: excluded, as the webhooks exclude it. */
  namespace: string;
}

export const POLICY_NAME = 'canary-webhook-weights';
export const policyBindingNames = [POLICY_NAME, `${POLICY_NAME}-warn`] as const;
/** SPEC §1, §11: `warn` turns denials into warnings, per namespace. */
/** Which --weight-policy the policy was generated for. */
export const WEIGHT_POLICY_LABEL = 'canary-webhook/weight-policy';
export const ENFORCEMENT_LABEL = 'canary-webhook/enforcement';

type Manifest = Record<string, unknown>;

const labels = { 'app.kubernetes.io/name': 'canary-webhook', 'app.kubernetes.io/part-of': 'canary-webhook' };

export function policyManifests(options: PolicyOptions): Manifest[] {
  const { variables, validations } = weightCel(options.weightPolicy);
  const policy: Manifest = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: POLICY_NAME, labels: { ...labels, [WEIGHT_POLICY_LABEL]: options.weightPolicy } },
    spec: {
      // Evaluated inside the API server: there is no outage to fail open for.
      // An error (a budget exceeded by an absurdly large object) denies.
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: ['networking.istio.io'],
            apiVersions: ['v1', 'v1beta1', 'v1alpha3'],
            resources: ['virtualservices'],
            operations: ['CREATE', 'UPDATE'],
            scope: 'Namespaced',
          },
        ],
        matchPolicy: 'Equivalent',
      },
      variables,
      validations,
    },
  };
  return [policy, binding(options, 'Deny'), binding(options, 'Warn')];
}

/** Split by the enforcement label, as the webhooks' two entries are (SPEC §11). */
function binding(options: PolicyOptions, action: 'Deny' | 'Warn'): Manifest {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: action === 'Deny' ? policyBindingNames[0] : policyBindingNames[1], labels },
    spec: {
      policyName: POLICY_NAME,
      validationActions: [action],
      matchResources: {
        namespaceSelector: {
          matchExpressions: [
            // Same exclusions as the webhooks: the webhook's own namespace stays repairable, kube-system untouched.
            { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', options.namespace] },
            action === 'Deny'
              ? { key: ENFORCEMENT_LABEL, operator: 'NotIn', values: ['warn'] }
              : { key: ENFORCEMENT_LABEL, operator: 'In', values: ['warn'] },
          ],
        },
      },
    },
  };
}
