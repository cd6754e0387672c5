// Which service a canary Deployment backs and which version it is (SPEC §2),
// read from untrusted admission input without ever throwing.
import { isDns1123Label, isValidLabelValue } from './names.js';
import { quote } from './text.js';
import type { JsonObject, RuleSettings } from './types.js';

/** Istio's canary conventions: these label keys are fixed, not settings. */
export const APP_LABEL = 'app';
export const VERSION_LABEL = 'version';
const K8S_NAME_LABEL = 'app.kubernetes.io/name';
const K8S_VERSION_LABEL = 'app.kubernetes.io/version';

export type Read<T> = { ok: true; value: T } | { ok: false; message: string };

const fail = (message: string): { ok: false; message: string } => ({ ok: false, message });

/** A discovered value and where it came from, worded for messages. */
export interface Source {
  where: string;
  value: string;
}

/** The parts of a Deployment the rules read, checked for shape. */
export interface DeploymentView {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  templateLabels: Record<string, string>;
  templateAnnotations: Record<string, string>;
  /** `spec.selector.matchLabels`; undefined when the selector has none (matchExpressions only). */
  selectorLabels: Record<string, string> | undefined;
  firstImage: string | undefined;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Follow object keys; undefined as soon as a step is not an object. */
export function getPath(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (!isJsonObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** `metadata.labels["app.kubernetes.io/name"]`: keys with `/` or `.` need brackets to be readable. */
export function fieldPath(base: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

// YAML `labels:` with nothing under it decodes to null; Kubernetes treats that as absent.
const absent = (value: unknown): value is null | undefined => value === undefined || value === null;

function readStringMap(value: unknown, path: string): Read<Record<string, string>> {
  if (absent(value)) return { ok: true, value: {} };
  if (!isJsonObject(value)) return fail(`${path} must be a map of strings`);
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') return fail(`${fieldPath(path, key)} must be a string, not ${describe(item)}`);
  }
  return { ok: true, value: value as Record<string, string> };
}

function readObject(value: unknown, path: string, required: boolean): Read<JsonObject> {
  if (absent(value)) return required ? fail(`${path} is missing`) : { ok: true, value: {} };
  return isJsonObject(value) ? { ok: true, value } : fail(`${path} must be an object, not ${describe(value)}`);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return `a ${typeof value}`;
}

/** Check every field the rules read or write, so a malformed object earns a denial naming the field. */
export function readDeployment(deployment: unknown): Read<DeploymentView> {
  const root = readObject(deployment, 'the Deployment', true);
  if (!root.ok) return root;
  const metadata = readObject(root.value.metadata, 'metadata', true);
  if (!metadata.ok) return metadata;
  const labels = readStringMap(metadata.value.labels, 'metadata.labels');
  if (!labels.ok) return labels;
  const annotations = readStringMap(metadata.value.annotations, 'metadata.annotations');
  if (!annotations.ok) return annotations;
  const spec = readObject(root.value.spec, 'spec', true);
  if (!spec.ok) return spec;
  const selector = readObject(spec.value.selector, 'spec.selector', true);
  if (!selector.ok) return selector;
  const matchLabels = absent(selector.value.matchLabels)
    ? { ok: true as const, value: undefined }
    : readStringMap(selector.value.matchLabels, 'spec.selector.matchLabels');
  if (!matchLabels.ok) return matchLabels;
  const template = readObject(spec.value.template, 'spec.template', true);
  if (!template.ok) return template;
  const templateMeta = readObject(template.value.metadata, 'spec.template.metadata', false);
  if (!templateMeta.ok) return templateMeta;
  const templateLabels = readStringMap(templateMeta.value.labels, 'spec.template.metadata.labels');
  if (!templateLabels.ok) return templateLabels;
  const templateAnnotations = readStringMap(templateMeta.value.annotations, 'spec.template.metadata.annotations');
  if (!templateAnnotations.ok) return templateAnnotations;
  const image = readFirstImage(template.value.spec);
  if (!image.ok) return image;
  return {
    ok: true,
    value: {
      labels: labels.value,
      annotations: annotations.value,
      templateLabels: templateLabels.value,
      templateAnnotations: templateAnnotations.value,
      selectorLabels: matchLabels.value,
      firstImage: image.value,
    },
  };
}

function readFirstImage(podSpec: unknown): Read<string | undefined> {
  const spec = readObject(podSpec, 'spec.template.spec', false);
  if (!spec.ok) return spec;
  const containers = spec.value.containers;
  if (absent(containers)) return { ok: true, value: undefined };
  if (!Array.isArray(containers)) return fail(`spec.template.spec.containers must be a list, not ${describe(containers)}`);
  if (containers.length === 0) return { ok: true, value: undefined };
  const first = readObject(containers[0], 'spec.template.spec.containers[0]', true);
  if (!first.ok) return first;
  const image = first.value.image;
  if (absent(image)) return { ok: true, value: undefined };
  if (typeof image !== 'string') return fail(`spec.template.spec.containers[0].image must be a string, not ${describe(image)}`);
  return { ok: true, value: image };
}

/**
 * The tag of an image reference, or undefined for none, a bare digest, or
 * `latest` (which names no version). The tag follows the last `:` after the
 * last `/`, so a registry port (`host:5000/img`) is not mistaken for one.
 */
export function imageTag(image: string): string | undefined {
  const name = image.split('@')[0] ?? '';
  const colon = name.lastIndexOf(':');
  if (colon <= name.lastIndexOf('/')) return undefined;
  const tag = name.slice(colon + 1);
  return tag === '' || tag === 'latest' ? undefined : tag;
}

function found(candidates: ReadonlyArray<readonly [string, string | undefined]>): Source[] {
  return candidates.flatMap(([where, value]) => (value === undefined ? [] : [{ where, value }]));
}

/** Service name, first found wins: annotation, template `app`, Deployment `app`, template `app.kubernetes.io/name`. */
export function discoverService(view: DeploymentView, settings: RuleSettings): Read<Source> {
  const [first] = found([
    [`annotation ${quote(settings.serviceAnnotation, 63)}`, view.annotations[settings.serviceAnnotation]],
    [`pod template label "${APP_LABEL}"`, view.templateLabels[APP_LABEL]],
    [`Deployment label "${APP_LABEL}"`, view.labels[APP_LABEL]],
    [`pod template label "${K8S_NAME_LABEL}"`, view.templateLabels[K8S_NAME_LABEL]],
  ]);
  if (!first) {
    return fail(
      `a canary Deployment needs a service name: add an "${APP_LABEL}" label to the pod template ` +
        `or set annotation ${quote(settings.serviceAnnotation, 63)} to the Service's name`,
    );
  }
  // The name becomes the host `<service>.<namespace>.svc...`, so it must be a possible Service name.
  if (!isDns1123Label(first.value)) {
    return fail(
      `service name ${quote(first.value, 70)} (from ${first.where}) is not a valid Service name ` +
        `(lower-case alphanumerics and "-", at most 63 characters); ` +
        `set annotation ${quote(settings.serviceAnnotation, 63)} to the Service's name`,
    );
  }
  return { ok: true, value: first };
}

/** Sources a person sets on purpose to name the version; when two disagree, the Deployment is denied. */
export function explicitVersionSources(view: DeploymentView, settings: RuleSettings): Source[] {
  return found([
    [`pod template label "${VERSION_LABEL}"`, view.templateLabels[VERSION_LABEL]],
    [`Deployment label "${VERSION_LABEL}"`, view.labels[VERSION_LABEL]],
    [`annotation ${quote(settings.versionAnnotation, 63)}`, view.annotations[settings.versionAnnotation]],
  ]);
}

/**
 * Fallbacks that only suggest a version. They routinely differ from the canary
 * version (Bookinfo's reviews-v2 runs image tag 1.20.3; Helm sets
 * app.kubernetes.io/version to the chart's appVersion), so they never conflict.
 */
export function implicitVersionSources(view: DeploymentView): Source[] {
  const tag = view.firstImage === undefined ? undefined : imageTag(view.firstImage);
  return found([
    [`pod template label "${K8S_VERSION_LABEL}"`, view.templateLabels[K8S_VERSION_LABEL]],
    ['the first container\'s image tag', tag],
  ]);
}

/** Version, first found wins; explicit sources must agree; the result must be a valid label value. */
export function discoverVersion(view: DeploymentView, settings: RuleSettings): Read<Source> {
  const explicit = explicitVersionSources(view, settings);
  const [first] = explicit;
  const disagreeing = explicit.find((source) => source.value !== first?.value);
  if (first && disagreeing) {
    return fail(
      `${first.where} says ${quote(first.value, 70)} but ${disagreeing.where} says ${quote(disagreeing.value, 70)}: ` +
        'a Deployment runs one version; make them agree or remove one',
    );
  }
  const chosen = first ?? implicitVersionSources(view)[0];
  if (!chosen) {
    return fail(
      `a canary Deployment needs a version: set pod template label "${VERSION_LABEL}" ` +
        `or annotation ${quote(settings.versionAnnotation, 63)}, or use an image tag other than latest`,
    );
  }
  return checkVersion(chosen);
}

export function checkVersion(source: Source): Read<Source> {
  if (isValidLabelValue(source.value)) return { ok: true, value: source };
  return fail(
    `version ${quote(source.value, 70)} (from ${source.where}) is not a valid label value ` +
      `(at most 63 alphanumerics, "-", "_" or ".", alphanumeric at both ends); ` +
      `set pod template label "${VERSION_LABEL}" to a valid version`,
  );
}
