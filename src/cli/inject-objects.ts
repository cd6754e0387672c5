// The heart of `inject`: every document printed again, canary Deployments as
// the webhook would patch them, each DestinationRule as it would be once the
// subsets are ensured. Deployments are mutated in input order against one
// working set, so several versions of a service accumulate in one rule.
import { DocumentEditor, renderObject } from '../manifests/edit.js';
import type { ManifestObject } from '../manifests/objects.js';
import type { SourceDocument } from '../manifests/parse.js';
import { mutateDeployment } from '../rules/mutate.js';
import type { DestinationRule, JsonObject, RuleSettings } from '../rules/types.js';
import { findingAbout, formatFinding, splitPath } from './findings.js';
import { isDeployment, isDestinationRule, toDestinationRule } from '../manifests/kinds.js';
import { namespaceLabelsOf } from '../manifests/namespaces.js';
import { DestinationRuleSet, type RuleEntry } from './rule-set.js';

export interface InjectOptions {
  namespace: string;
  settings: RuleSettings;
}

export interface InjectResult {
  /** The YAML stream to print; meaningless when there are denials. */
  output: string;
  denials: string[];
  warnings: string[];
  /** Per service host planned for: the existing rules (cluster, --with, input) the plan started from. */
  assumed: Map<string, string[]>;
}

export function injectManifests(
  documents: readonly SourceDocument[],
  objects: readonly ManifestObject[],
  context: readonly ManifestObject[],
  options: InjectOptions,
  cluster?: readonly DestinationRule[],
): InjectResult {
  const rules = new DestinationRuleSet(options.settings);
  // What the cluster holds first, then `--with`, then the input: each later source is what a later apply leaves.
  for (const rule of cluster ?? []) rules.add(rule, 'cluster');
  for (const [items, origin] of [[context, 'with'], [objects, 'input']] as const) {
    for (const item of items.filter(isDestinationRule)) {
      const rule = toDestinationRule(item, options.namespace);
      if (rule) rules.add(rule, origin, item);
    }
  }

  const editors = new Map<SourceDocument, DocumentEditor>();
  const editorFor = (document: SourceDocument): DocumentEditor => {
    const editor = editors.get(document) ?? new DocumentEditor(document);
    editors.set(document, editor);
    return editor;
  };
  const result: InjectResult = { output: '', denials: [], warnings: [], assumed: new Map() };
  // SPEC §2: offline mode reads Namespace objects from its input (the input's own win over --with's).
  const namespaces = namespaceLabelsOf([...context, ...objects]);
  for (const item of objects.filter(isDeployment)) {
    const namespace = item.namespace ?? options.namespace;
    const outcome = mutateDeployment(item.object, { operation: 'CREATE', namespace, settings: options.settings, namespaceLabels: namespaces.get(namespace) });
    if (outcome.kind === 'skip') continue;
    if (outcome.kind === 'deny') {
      result.denials.push(formatFinding(findingAbout(item, namespace, 'error', '', outcome.message)));
      continue;
    }
    editorFor(item.document).apply(item.at, item.object, outcome.mutated);
    if (!result.assumed.has(outcome.subset.host)) result.assumed.set(outcome.subset.host, rules.existingFor(outcome.subset));
    const { plan } = rules.ensureSubset(outcome.subset, item);
    if (plan.action === 'refuse') result.denials.push(formatFinding(findingAbout(item, namespace, 'error', '', plan.reason)));
    for (const warning of [...outcome.warnings, ...plan.warnings]) {
      const { path, message } = splitPath(warning);
      result.warnings.push(formatFinding(findingAbout(item, namespace, 'warning', path, message)));
    }
  }

  const after = new Map<SourceDocument, RuleEntry[]>();
  for (const entry of rules.all()) {
    if (entry.deleted) {
      // An apply stream cannot delete; say what the webhook would do instead.
      result.warnings.push(`note: the webhook would delete DestinationRule ${entry.key}: user rules now define all its subsets`);
      continue;
    }
    const changed = entry.current !== entry.original;
    if (entry.origin === 'input' && entry.source && changed) {
      editorFor(entry.source.document).apply(entry.source.at, entry.original, entry.current);
    } else if ((entry.origin === 'created' || changed) && entry.origin !== 'input' && entry.firstUser) {
      // Rules that already exist (cluster, --with) are printed only when the webhook would change them.
      after.set(entry.firstUser.document, [...(after.get(entry.firstUser.document) ?? []), entry]);
    }
  }
  const parts: string[] = [];
  for (const document of documents) {
    parts.push(editors.get(document)?.render() ?? document.text);
    const rulesAfter = (after.get(document) ?? []).sort((a, b) => (a.firstUser?.seq ?? 0) - (b.firstUser?.seq ?? 0));
    for (const entry of rulesAfter) parts.push(renderRule(entry, document));
  }
  // An empty document ends many files (a trailing `---`); kept only at the very
  // end, so concatenated files come out as `cat` would print them.
  result.output = parts.filter((part, i) => part !== '' || i === parts.length - 1).join('---\n');
  return result;
}

/**
 * A rule not in the input, printed after the Deployment that needs it. When
 * that Deployment names no namespace, neither does the rule, and a created
 * rule's host is the short service name: wherever `kubectl apply` (or `-n X`)
 * puts the Deployment, the rule lands beside it and means the same service,
 * instead of pointing at the namespace `--namespace` merely assumed.
 */
function renderRule(entry: RuleEntry, styleOf: SourceDocument): string {
  if (entry.origin === 'with' && entry.source && entry.source.at.length === 0) {
    // A whole document from a --with file: edit it in place to keep its comments.
    const editor = new DocumentEditor(entry.source.document);
    editor.apply([], entry.original, entry.current);
    return editor.render();
  }
  const rule = structuredClone(entry.current) as JsonObject & { metadata: JsonObject; spec: JsonObject };
  if (entry.origin === 'cluster') {
    // What the API server added is not part of an apply.
    for (const key of ['resourceVersion', 'uid', 'creationTimestamp', 'generation', 'managedFields']) delete rule.metadata[key];
    delete rule.status;
    return renderObject(rule, styleOf);
  }
  const declared = entry.origin === 'with' ? entry.source?.namespace : entry.firstUser?.namespace;
  if (declared === undefined) {
    delete rule.metadata.namespace;
    // Service names are DNS labels, so the first label of the FQDN is the service.
    if (entry.origin === 'created') rule.spec.host = String(rule.spec.host).split('.')[0];
  }
  return renderObject(rule, styleOf);
}
