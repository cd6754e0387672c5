// The Deployment side of SPEC §2: decide service and version, then edit a
// clone; the handler diffs it into the JSON Patch (patch.ts).
import {
  APP_LABEL,
  VERSION_LABEL,
  checkVersion,
  discoverService,
  discoverVersion,
  explicitVersionSources,
  fieldPath,
  getPath,
  implicitVersionSources,
  isJsonObject,
  readDeployment,
  type DeploymentView,
  type Read,
  type Source,
} from './discovery.js';
import { cloneTree } from './clone.js';
import { injectionEdits } from './injection.js';
import { toSubsetName } from './names.js';
import { quote } from './text.js';
import type { JsonObject, MutationContext, MutationOutcome, RuleSettings } from './types.js';

export function mutateDeployment(deployment: unknown, ctx: MutationContext): MutationOutcome {
  try {
    return mutate(deployment, ctx);
  } catch (error) {
    // Unreachable by design; a crash would fail every admission (failurePolicy: Fail).
    return { kind: 'deny', message: `canary-webhook could not process this Deployment: ${String(error)}` };
  }
}

function mutate(deployment: unknown, ctx: MutationContext): MutationOutcome {
  const { settings } = ctx;
  // Only the exact string counts: YAML `true` unquoted is a boolean, which Kubernetes would refuse as a label anyway.
  if (getPath(deployment, 'metadata', 'labels', settings.optInLabel) !== 'true') {
    return { kind: 'skip', reason: `${fieldPath('metadata.labels', settings.optInLabel)} is not "true"` };
  }
  const view = readDeployment(deployment);
  if (!view.ok) return { kind: 'deny', message: `invalid Deployment: ${view.message}` };
  const namespace = ctx.namespace || stringAt(deployment, 'metadata', 'namespace');
  if (!namespace) return { kind: 'deny', message: 'the Deployment has no namespace (request.namespace is empty)' };
  const service = discoverService(view.value, settings);
  if (!service.ok) return { kind: 'deny', message: service.message };

  const warnings: string[] = [];
  const decided = ctx.operation === 'UPDATE'
    ? versionForUpdate(view.value, ctx, warnings)
    : versionForCreate(view.value, settings);
  if (!decided.ok) return { kind: 'deny', message: decided.message };
  const { version, selectorVersion } = decided.value;

  const mutated = cloneTree(deployment) as JsonObject;
  applyEdits(mutated, { service: service.value.value, version, selectorVersion, settings, warnings, namespace, namespaceLabels: ctx.namespaceLabels });
  const host = `${service.value.value}.${namespace}.svc.${settings.clusterDomain}`;
  return {
    kind: 'mutate',
    mutated,
    subset: { namespace, service: service.value.value, host, subsetName: toSubsetName(version), labels: { [VERSION_LABEL]: version } },
    warnings,
  };
}

interface Decision {
  version: string;
  /** The `version` to put into `spec.selector.matchLabels`, or undefined to leave the selector alone. */
  selectorVersion: string | undefined;
}

function versionForCreate(view: DeploymentView, settings: RuleSettings): Read<Decision> {
  const discovered = discoverVersion(view, settings);
  if (!discovered.ok) return discovered;
  const { value: version, where } = discovered.value;
  // A selector that pins another version than the template gets would be refused by the API server with a far vaguer message.
  const pinned = view.selectorLabels?.[VERSION_LABEL];
  if (pinned !== undefined && pinned !== version) {
    return {
      ok: false,
      message: `spec.selector.matchLabels.version is ${quote(pinned, 70)} but ${where} says ${quote(version, 70)}; make them agree`,
    };
  }
  return { ok: true, value: { version, selectorVersion: version } };
}

/** On UPDATE the selector is immutable, so the stored one decides (SPEC §2). */
function versionForUpdate(view: DeploymentView, ctx: MutationContext, warnings: string[]): Read<Decision> {
  const stored = stringAt(ctx.oldObject, 'spec', 'selector', 'matchLabels', VERSION_LABEL);
  if (stored === undefined) {
    // No stored pin (or no oldObject): the selector stays as it is, without a version.
    const discovered = discoverVersion(view, ctx.settings);
    return discovered.ok ? { ok: true, value: { version: discovered.value.value, selectorVersion: undefined } } : discovered;
  }
  const incoming = view.selectorLabels?.[VERSION_LABEL];
  if (incoming !== undefined && incoming !== stored) {
    return {
      ok: false,
      message: `spec.selector is immutable and pins version ${quote(stored, 70)}, not ${quote(incoming, 70)}; ` +
        'create a new Deployment for a new version',
    };
  }
  const other = explicitVersionSources(view, ctx.settings).find((source) => source.value !== stored);
  if (other) {
    return {
      ok: false,
      message: `${other.where} says ${quote(other.value, 70)} but this Deployment's selector is pinned to version ` +
        `${quote(stored, 70)} and cannot change; create a new Deployment for a new version`,
    };
  }
  const checked = checkVersion({ where: 'the stored spec.selector', value: stored });
  if (!checked.ok) return checked;
  const hint = suggestedVersion(view, ctx);
  if (hint && hint.value !== stored) {
    warnings.push(`${hint.where} suggests version ${quote(hint.value, 16)}; selector pins ${quote(stored, 16)}`);
  }
  return { ok: true, value: { version: stored, selectorVersion: stored } };
}

/**
 * An image tag (or app.kubernetes.io/version) that differs from the pinned
 * version only means something when the version tracks it: nothing explicit
 * names the version, or the stored object's tag was the version. Otherwise
 * Bookinfo's reviews-v2 (tag 1.20.3) would warn on every update.
 */
function suggestedVersion(view: DeploymentView, ctx: MutationContext): Source | undefined {
  const [hint] = implicitVersionSources(view);
  if (!hint) return undefined;
  if (explicitVersionSources(view, ctx.settings).length === 0) return hint;
  const old = readDeployment(ctx.oldObject);
  const oldHint = old.ok ? implicitVersionSources(old.value)[0] : undefined;
  const stored = stringAt(ctx.oldObject, 'spec', 'selector', 'matchLabels', VERSION_LABEL);
  return oldHint?.value === stored ? hint : undefined;
}

interface Edits {
  service: string;
  version: string;
  selectorVersion: string | undefined;
  settings: RuleSettings;
  warnings: string[];
  namespace: string;
  namespaceLabels: Readonly<Record<string, string>> | undefined;
}

/** Edit the clone; readDeployment has already checked every map touched here is a map or absent. */
function applyEdits(mutated: JsonObject, edits: Edits): void {
  const { version, settings } = edits;
  ensureMap(mutated, 'metadata', 'labels')[VERSION_LABEL] = version;
  const template = ensureMap(mutated, 'spec', 'template');
  const templateLabels = ensureMap(template, 'metadata', 'labels');
  templateLabels[VERSION_LABEL] = version;
  if (templateLabels[APP_LABEL] === undefined) templateLabels[APP_LABEL] = edits.service;
  if (edits.selectorVersion !== undefined) {
    const matchLabels = ensureMap(mutated, 'spec', 'selector', 'matchLabels');
    if (matchLabels[VERSION_LABEL] === undefined) matchLabels[VERSION_LABEL] = edits.selectorVersion;
  }

  const templateMeta = ensureMap(template, 'metadata');
  const annotations = getPath(templateMeta, 'annotations');
  const injection = injectionEdits({
    template: { labels: templateLabels as Record<string, string>, annotations: (isJsonObject(annotations) ? annotations : {}) as Record<string, string> },
    namespaceLabels: edits.namespaceLabels,
    namespace: edits.namespace,
    version,
    settings,
  });
  if (injection.warning !== undefined) edits.warnings.push(injection.warning);
  Object.assign(templateLabels, injection.labels);
  if (Object.keys(injection.annotations).length > 0) Object.assign(ensureMap(templateMeta, 'annotations'), injection.annotations);
}

/** The map at `keys`, created (replacing null) where missing, so the diff adds whole maps. */
function ensureMap(root: JsonObject, ...keys: string[]): JsonObject {
  let current = root;
  for (const key of keys) {
    const next = current[key];
    if (isJsonObject(next)) {
      current = next;
    } else {
      const created: JsonObject = {};
      current[key] = created;
      current = created;
    }
  }
  return current;
}

function stringAt(value: unknown, ...keys: string[]): string | undefined {
  const found = getPath(value, ...keys);
  return typeof found === 'string' ? found : undefined;
}
