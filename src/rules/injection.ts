// How a canary pod template asks Istio for a sidecar (SPEC §2 "The mesh
// decides how injection is spelled"). Pure: mutate.ts applies the answer.
//
// Read from Istio's source:
// - pkg/kube/inject/inject.go `injectRequired`: the pod label
//   sidecar.istio.io/inject wins over the annotation when present; "y",
//   "yes", "true", "on" (any case) inject, "" means "no opinion", any other
//   value is an opt-out.
// - manifests/charts/istio-control/istio-discovery/templates/revision-tags-mwc.yaml
//   (the injector's webhook selectors): a namespace labelled
//   istio-injection=disabled matches no injector webhook, so no pod label can
//   override it; `istio-injection: enabled` or `istio.io/rev` on the namespace
//   already inject; in an unlabelled namespace the pod label
//   sidecar.istio.io/inject="true" reaches only the default revision (or the
//   `default` tag), while a pod label istio.io/rev=REV reaches revision REV.
// - cni/pkg/util/podutil.go `PodRedirectionEnabled`: a pod with a sidecar is
//   never captured by ambient ("Ztunnel and sidecar for a single pod is
//   currently not supported"), whether ambient comes from the namespace or
//   the pod label istio.io/dataplane-mode=ambient; the pod label `none` opts
//   a pod of an ambient namespace out.
import { quote, warningLine } from './text.js';
import type { RuleSettings } from './types.js';

export const INJECT_KEY = 'sidecar.istio.io/inject';
export const REVISION_LABEL = 'istio.io/rev';
export const INJECTION_LABEL = 'istio-injection';
export const DATAPLANE_MODE_LABEL = 'istio.io/dataplane-mode';

const OPT_IN_VALUES = new Set(['y', 'yes', 'true', 'on']);

export const isOptIn = (value: string | undefined): boolean => value !== undefined && OPT_IN_VALUES.has(value.toLowerCase());
/** Istio compares without trimming; neither do we. */
const isOptOut = (value: string | undefined): boolean => value !== undefined && value !== '' && !isOptIn(value);

export interface PodTemplateMeta {
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
}

/** What to set on the pod template: only keys that change. */
export interface InjectionEdits {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  warning: string | undefined;
}

export interface InjectionInput {
  template: PodTemplateMeta;
  /** The namespace's labels; undefined (unknown namespace) reads as unlabelled. */
  namespaceLabels: Readonly<Record<string, string>> | undefined;
  namespace: string;
  version: string;
  settings: Pick<RuleSettings, 'injectMode' | 'istioRevision'>;
}

export function injectionEdits(input: InjectionInput): InjectionEdits {
  const { template, settings } = input;
  const namespaceLabels = input.namespaceLabels ?? {};
  const edits: InjectionEdits = { labels: {}, annotations: {}, warning: undefined };
  const version = quote(input.version, 16);
  const namespace = quote(input.namespace, 24);

  // A pod label `none` takes the pod out of an ambient namespace; then the sidecar rules below apply.
  const podMode = template.labels[DATAPLANE_MODE_LABEL];
  if (podMode !== 'none' && (namespaceLabels[DATAPLANE_MODE_LABEL] === 'ambient' || podMode === 'ambient')) {
    const where = namespaceLabels[DATAPLANE_MODE_LABEL] === 'ambient' ? `namespace ${namespace} is` : 'the pod template is';
    edits.warning = isOptIn(template.labels[INJECT_KEY] ?? template.annotations[INJECT_KEY])
      ? `${where} ambient but ${INJECT_KEY} asks for a sidecar, which takes version ${version} out of ambient`
      : `${where} ambient: no sidecar added for version ${version}; subset routing in ambient needs a waypoint`;
    return finish(edits);
  }
  if (namespaceLabels[INJECTION_LABEL] === 'disabled') {
    edits.warning = `namespace ${namespace} has ${INJECTION_LABEL}=disabled: version ${version} gets no sidecar (a pod label cannot override it)`;
    return finish(edits);
  }
  const optOut = userOptOut(template);
  if (optOut !== undefined) {
    edits.warning = `${INJECT_KEY} is ${quote(optOut, 12)}: routing to version ${version} still works but its pods get no sidecar`;
    return finish(edits);
  }
  if (settings.istioRevision !== undefined) {
    // The namespace already selects an injector; a pod revision label could only pick a second one.
    const namespaceInjects = namespaceLabels[REVISION_LABEL] !== undefined || namespaceLabels[INJECTION_LABEL] === 'enabled';
    // A revision the user pinned on the template is theirs to choose.
    if (!namespaceInjects && template.labels[REVISION_LABEL] === undefined) edits.labels[REVISION_LABEL] = settings.istioRevision;
    return finish(edits);
  }
  // Only where nothing is said yet: an existing opt-in spelling ("yes", "on") is left as written.
  const unset = (value: string | undefined): boolean => value === undefined || value === '';
  if (settings.injectMode !== 'annotation' && unset(template.labels[INJECT_KEY])) edits.labels[INJECT_KEY] = 'true';
  if (settings.injectMode !== 'label' && unset(template.annotations[INJECT_KEY])) edits.annotations[INJECT_KEY] = 'true';
  return finish(edits);
}

/**
 * The user's "no", as Istio reads it: the label when it says anything, else
 * the annotation. An annotation "no" under an empty label is kept as a "no"
 * too (Istio ignores it, but writing "true" over it would override the user).
 */
function userOptOut(template: PodTemplateMeta): string | undefined {
  const label = template.labels[INJECT_KEY];
  if (isOptIn(label)) return undefined;
  if (isOptOut(label)) return label;
  const annotation = template.annotations[INJECT_KEY];
  return isOptOut(annotation) ? annotation : undefined;
}

function finish(edits: InjectionEdits): InjectionEdits {
  if (edits.warning !== undefined) edits.warning = warningLine(edits.warning);
  return edits;
}
