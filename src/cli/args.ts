// Flag parsing shared by `check` and `inject`: node:util parseArgs, strict,
// with the rule-setting flags named as `serve` names them, so one set of
// values configures the webhook and the CI check alike.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { defaultRuleSettings, type RuleSettings, type WeightPolicy } from '../rules/types.js';
import { WEIGHT_POLICIES } from '../rules/weights.js';
import { isValidLabelValue } from '../rules/names.js';
import { ConfigError, placementFlags, placementSettings } from '../config.js';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Bad command line: the caller prints the message and the usage, and exits 2. */
export class UsageError extends Error {}

export const commonFlags = {
  filename: { type: 'string', short: 'f', multiple: true },
  namespace: { type: 'string', short: 'n' },
  help: { type: 'boolean', short: 'h' },
  'cluster-domain': { type: 'string' },
  'root-namespace': { type: 'string' },
  'opt-in-label': { type: 'string' },
  'version-annotation': { type: 'string' },
  'service-annotation': { type: 'string' },
  'inject-mode': { type: 'string' },
  'weight-policy': { type: 'string' },
  'istio-revision': { type: 'string' },
  ...placementFlags,
} as const satisfies OptionsConfig;

export const settingsHelp = `Rule settings (same names and defaults as for serve):
      --cluster-domain D      cluster domain of service hosts (default "${defaultRuleSettings.clusterDomain}")
      --root-namespace NS     Istio root namespace (default "${defaultRuleSettings.rootNamespace}")
      --opt-in-label KEY      Deployment label that opts in (default "${defaultRuleSettings.optInLabel}")
      --version-annotation K  version annotation (default "${defaultRuleSettings.versionAnnotation}")
      --service-annotation K  service annotation (default "${defaultRuleSettings.serviceAnnotation}")
      --inject-mode MODE      sidecar injection via label, annotation or both (default "${defaultRuleSettings.injectMode}")
      --weight-policy P       route weights: sum-100 or proportional (default "${defaultRuleSettings.weightPolicy}")
      --istio-revision REV    label pod templates istio.io/rev=REV instead (revision-only Istio)
      --subset-placement P    companion: a new subset beside a user-owned DestinationRule goes in
                              <service>-canary-webhook; append: into the user's rule
                              (default "${defaultRuleSettings.subsetPlacement}"; $CANARY_WEBHOOK_SUBSET_PLACEMENT)
      --max-subsets N         subsets the webhook keeps in one DestinationRule; past it the canary
                              Deployment is denied (default ${defaultRuleSettings.maxSubsets}; $CANARY_WEBHOOK_MAX_SUBSETS)`;

export function parseFlags<T extends OptionsConfig>(args: readonly string[], options: T) {
  // Paths may also come without -f (`check a.yaml b/`), as istioctl analyze takes them.
  const config = { args: [...args], options, strict: true, allowPositionals: true } as const;
  try {
    return parseArgs(config);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

interface CommonValues {
  filename?: string[];
  namespace?: string;
  'cluster-domain'?: string;
  'root-namespace'?: string;
  'opt-in-label'?: string;
  'version-annotation'?: string;
  'service-annotation'?: string;
  'inject-mode'?: string;
  'weight-policy'?: string;
  'istio-revision'?: string;
  'subset-placement'?: string;
  'max-subsets'?: string;
}

export function pathsFrom(values: CommonValues, positionals: readonly string[]): string[] {
  const paths = [...(values.filename ?? []), ...positionals];
  if (paths.length === 0) throw new UsageError('no input: give -f PATH (a file, a folder, or - for stdin)');
  return paths;
}

export function namespaceFrom(values: CommonValues): string {
  const namespace = values.namespace ?? 'default';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace) || namespace.length > 63) {
    throw new UsageError(`--namespace "${namespace}" is not a valid namespace name`);
  }
  return namespace;
}

function revisionFrom(raw: string | undefined): string | undefined {
  if (raw !== undefined && !isValidLabelValue(raw)) {
    throw new UsageError(`--istio-revision must be a label value (alphanumerics, -_. inside, at most 63), got ${JSON.stringify(raw.slice(0, 80))}`);
  }
  return raw;
}

export function settingsFrom(values: CommonValues, env: NodeJS.ProcessEnv): RuleSettings {
  let placement: ReturnType<typeof placementSettings>;
  try {
    placement = placementSettings(values, env);
  } catch (error) {
    throw error instanceof ConfigError ? new UsageError(error.message) : error;
  }
  const injectMode = values['inject-mode'] ?? defaultRuleSettings.injectMode;
  if (injectMode !== 'label' && injectMode !== 'annotation' && injectMode !== 'both') {
    throw new UsageError(`--inject-mode must be label, annotation or both, got "${injectMode}"`);
  }
  return {
    ...defaultRuleSettings,
    weightPolicy: weightPolicyFrom(values['weight-policy']),
    clusterDomain: values['cluster-domain'] ?? defaultRuleSettings.clusterDomain,
    rootNamespace: values['root-namespace'] ?? defaultRuleSettings.rootNamespace,
    optInLabel: values['opt-in-label'] ?? defaultRuleSettings.optInLabel,
    versionAnnotation: values['version-annotation'] ?? defaultRuleSettings.versionAnnotation,
    serviceAnnotation: values['service-annotation'] ?? defaultRuleSettings.serviceAnnotation,
    injectMode,
    istioRevision: revisionFrom(values['istio-revision']),
    ...placement,
  };
}

/** Shared with `policy`, which takes only this one rule setting. */
export function weightPolicyFrom(raw: string | undefined): WeightPolicy {
  const policy = raw ?? defaultRuleSettings.weightPolicy;
  if (!(WEIGHT_POLICIES as readonly string[]).includes(policy)) {
    throw new UsageError(`--weight-policy must be ${WEIGHT_POLICIES.join(' or ')}, got "${policy}"`);
  }
  return policy as WeightPolicy;
}
