// `canary-webhook check`: the webhook's validation for CI, before anything
// reaches a cluster (SPEC §7).
import { loadManifests } from '../manifests/load.js';
import { toObjects } from '../manifests/objects.js';
import type { InputError } from '../manifests/parse.js';
import type { RuleSettings } from '../rules/types.js';
import { commonFlags, namespaceFrom, parseFlags, pathsFrom, settingsFrom, settingsHelp, UsageError } from './args.js';
import { checkObjects, type CheckCounts } from './check-objects.js';
import { clusterDestinationRules, clusterVirtualServices } from './cluster.js';
import type { ClusterState } from './check-guard.js';
import { findingFromInputError, formatFinding, formatGithub, formatInputError, formatSkipped, plural, type Finding } from './findings.js';
import type { CliIo } from './io.js';
import { DestinationRuleSet } from './rule-set.js';

export const checkHelp = `Usage: canary-webhook check -f PATH... [flags]

Checks manifests with the rules the webhook enforces, without a cluster:
every VirtualService's route weights must sum to 100 and every subset it
routes to must be defined by a DestinationRule in the input (with --cluster,
also by one in the cluster). With --cluster, a DestinationRule in the input
whose apply would leave a VirtualService of the cluster routing to a subset
that no longer exists is an error too, as the guard webhook would deny it. Canary Deployments (label
canary-webhook/enabled: "true") are checked as the webhook would admit them,
and the subsets it would add for them count as defined.

Prints one line per problem, at the line and column of the node:
  FILE:LINE:COL: Kind namespace/name: spec.http[0].route: message
  FILE:LINE:COL: warning: Kind namespace/name: path: message
then a summary line. Folders are read recursively, skipping node_modules and
hidden folders; documents that are not Kubernetes objects (no apiVersion and
kind: a Helm values.yaml, a CI workflow) are skipped with a note on stderr.

Flags:
  -f, --filename PATH     file, folder (read recursively) or - for stdin; repeatable
  -n, --namespace NS      namespace of objects that name none (default "default")
  -o, --output FORMAT     text (default), json (an array of findings) or
                          github (GitHub Actions annotations on the pull request)
      --strict            documents that are not Kubernetes objects are input errors
      --cluster           also use the DestinationRules in the cluster, and check the
                          input's DestinationRules against its VirtualServices
      --kubeconfig FILE   kubeconfig for --cluster (default: in-cluster, $KUBECONFIG, ~/.kube/config)
  -h, --help              show this help
${settingsHelp}

Exit status: 0 nothing would be denied (warnings allowed), 1 something would
be denied, 2 input could not be read or parsed (or bad flags).

Examples:
  canary-webhook check -f k8s/ -f istio/destination-rules.yaml
  kustomize build overlays/prod | canary-webhook check -f - -o json
  canary-webhook check -f deploy/ -o github     # in a GitHub Actions step
`;

const checkFlags = {
  ...commonFlags,
  output: { type: 'string', short: 'o' },
  strict: { type: 'boolean' },
  cluster: { type: 'boolean' },
  kubeconfig: { type: 'string' },
} as const;

const outputs = ['text', 'json', 'github'] as const;
type Output = (typeof outputs)[number];

interface CheckRun {
  paths: string[];
  namespace: string;
  output: Output;
  strict: boolean;
  cluster: boolean;
  kubeconfig: string | undefined;
  settings: RuleSettings;
}

export async function runCheck(argv: readonly string[], io: CliIo): Promise<number> {
  let run: CheckRun;
  try {
    const { values, positionals } = parseFlags(argv, checkFlags);
    if (values.help) {
      io.stdout.write(checkHelp);
      return 0;
    }
    const output = values.output ?? 'text';
    if (!isOutput(output)) throw new UsageError(`--output must be text, json or github, got "${output}"`);
    if (values.kubeconfig !== undefined && !values.cluster) throw new UsageError('--kubeconfig only makes sense with --cluster');
    run = {
      paths: pathsFrom(values, positionals),
      namespace: namespaceFrom(values),
      output,
      strict: values.strict ?? false,
      cluster: values.cluster ?? false,
      kubeconfig: values.kubeconfig,
      settings: settingsFrom(values, io.env ?? process.env),
    };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`canary-webhook check: ${error.message}\nRun 'canary-webhook check --help' for usage.\n`);
    return 2;
  }
  return check(run, io);
}

async function check(run: CheckRun, io: CliIo): Promise<number> {
  const input = await loadManifests(run.paths, io);
  const { objects, errors, skipped } = toObjects(input.documents);
  const inputErrors: InputError[] = [...input.errors, ...errors];
  if (run.strict) {
    inputErrors.push(...skipped.map((note) => ({ ...note, column: 1, message: note.message.replace(/; skipped$/, ' (--strict)') })));
  } else {
    for (const note of skipped) io.stderr.write(`${formatSkipped(note)}\n`);
  }
  const rules = new DestinationRuleSet(run.settings);
  let cluster: ClusterState | undefined;
  if (run.cluster) {
    try {
      const destinationRules = await clusterDestinationRules(run.kubeconfig, io.env ?? process.env);
      for (const rule of destinationRules) rules.add(rule, 'cluster');
      cluster = { destinationRules, virtualServices: [] };
    } catch (error) {
      inputErrors.push({ file: '--cluster', message: `cannot read DestinationRules from the cluster: ${(error as Error).message}` });
    }
    if (cluster) {
      try {
        cluster.virtualServices = await clusterVirtualServices(run.kubeconfig, io.env ?? process.env);
      } catch (error) {
        inputErrors.push({ file: '--cluster', message: `cannot read VirtualServices from the cluster: ${(error as Error).message}` });
      }
    }
  }
  const { findings, counts } = checkObjects(objects, rules, { namespace: run.namespace, settings: run.settings, cluster });

  for (const error of inputErrors) io.stderr.write(`${formatInputError(error)}\n`);
  if (run.output === 'json') {
    io.stdout.write(`${JSON.stringify([...inputErrors.map(findingFromInputError), ...findings], null, 2)}\n`);
  } else {
    if (run.output === 'github') {
      for (const finding of [...inputErrors.map(findingFromInputError), ...findings]) io.stdout.write(`${formatGithub(finding)}\n`);
    } else {
      for (const finding of findings) io.stdout.write(`${formatFinding(finding)}\n`);
    }
    const documents = input.documents.filter((document) => document.value !== null).length;
    io.stdout.write(`${summary(findings, counts, inputErrors.length, documents, input.files)}\n`);
  }
  if (inputErrors.length > 0) return 2;
  return findings.some((finding) => finding.severity === 'error') ? 1 : 0;
}

function summary(findings: readonly Finding[], counts: CheckCounts, unreadable: number, documents: number, files: number): string {
  const errors = findings.filter((finding) => finding.severity === 'error').length;
  const verdict = [plural(errors, 'error'), plural(findings.length - errors, 'warning')];
  if (unreadable > 0) verdict.push(plural(unreadable, 'input error'));
  return `${verdict.join(', ')}: checked ${plural(counts.virtualServices, 'VirtualService')} and ` +
    `${plural(counts.canaryDeployments, 'canary Deployment')} against ${plural(counts.destinationRules, 'DestinationRule')} ` +
    `(${plural(documents, 'document')} in ${plural(files, 'file')})`;
}

function isOutput(value: string): value is Output {
  return (outputs as readonly string[]).includes(value);
}
