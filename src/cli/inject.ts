// `canary-webhook inject`: print manifests as the webhook would admit them,
// like `istioctl kube-inject -f` (SPEC §7). Output is meant for
// `| kubectl apply -f -`, so nothing is printed unless every document is fine.
import { loadManifests } from '../manifests/load.js';
import { toObjects } from '../manifests/objects.js';
import { commonFlags, namespaceFrom, parseFlags, pathsFrom, settingsFrom, settingsHelp, UsageError } from './args.js';
import { formatInputError, formatSkipped } from './findings.js';
import { injectManifests, type InjectOptions } from './inject-objects.js';
import type { CliIo } from './io.js';
import { clusterDestinationRules } from './cluster.js';
import type { DestinationRule } from '../rules/types.js';

export const injectHelp = `Usage: canary-webhook inject -f PATH... [--with PATH...] [flags]

Prints every document of the input again, with each canary Deployment
(label canary-webhook/enabled: "true") changed as the webhook would change it
(version labels, selector, sidecar injection) and each DestinationRule as it
would be once the subset for that version is ensured. A DestinationRule in the
input is updated where it stands; one that is not (created, or read from
--with) follows the first Deployment that needs it, after "---". Other
documents pass through byte for byte, so a whole folder can be piped to kubectl.
Running inject on its own output changes nothing. Namespace documents in the
input (or --with) decide how injection is spelled, as the webhook reads the
cluster's: nothing in an ambient or istio-injection=disabled namespace.

A DestinationRule someone else owns (no app.kubernetes.io/managed-by:
canary-webhook label) is never printed with a changed subset list: applying
it would replace the cluster's list wholesale. The new subset goes into the
companion rule <service>-canary-webhook instead, as the webhook does. Without
--cluster, inject assumes the cluster holds only the DestinationRules given
(input and --with) and says so on stderr.

Flags:
  -f, --filename PATH     file, folder (read recursively) or - for stdin; repeatable
      --with PATH         DestinationRules that already exist (file or folder); repeatable
      --cluster           start from the DestinationRules the cluster holds
      --kubeconfig FILE   kubeconfig for --cluster (default: in-cluster, $KUBECONFIG, ~/.kube/config)
  -n, --namespace NS      namespace of objects that name none (default "default")
  -h, --help              show this help
${settingsHelp}

Exit status: 0 printed, 1 a canary Deployment would be denied (reasons on
stderr, nothing on stdout), 2 input could not be read or parsed (or bad flags).

Examples:
  canary-webhook inject -f reviews-v2.yaml --with istio/destination-rules.yaml
  canary-webhook inject -f k8s/ --cluster | kubectl apply -f -
`;

const injectFlags = {
  ...commonFlags,
  with: { type: 'string', multiple: true },
  cluster: { type: 'boolean' },
  kubeconfig: { type: 'string' },
} as const;

export async function runInject(argv: readonly string[], io: CliIo): Promise<number> {
  let paths: string[];
  let withPaths: string[];
  let options: InjectOptions;
  let cluster = false;
  let kubeconfig: string | undefined;
  try {
    const { values, positionals } = parseFlags(argv, injectFlags);
    if (values.help) {
      io.stdout.write(injectHelp);
      return 0;
    }
    paths = pathsFrom(values, positionals);
    withPaths = values.with ?? [];
    cluster = values.cluster === true || values.kubeconfig !== undefined;
    kubeconfig = values.kubeconfig;
    options = { namespace: namespaceFrom(values), settings: settingsFrom(values, io.env ?? process.env) };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`canary-webhook inject: ${error.message}\nRun 'canary-webhook inject --help' for usage.\n`);
    return 2;
  }

  const input = await loadManifests(paths, io);
  const context = withPaths.length > 0 ? await loadManifests(withPaths, io) : { documents: [], errors: [], files: 0 };
  const inputObjects = toObjects(input.documents);
  const contextObjects = toObjects(context.documents);
  const errors = [...input.errors, ...inputObjects.errors, ...context.errors, ...contextObjects.errors];
  for (const note of [...inputObjects.skipped, ...contextObjects.skipped]) io.stderr.write(`${formatSkipped(note)}\n`);
  if (errors.length > 0) {
    // Half a stream piped into kubectl apply would apply half a release.
    for (const error of errors) io.stderr.write(`${formatInputError(error)}\n`);
    return 2;
  }

  let clusterRules: DestinationRule[] | undefined;
  if (cluster) {
    try {
      clusterRules = await clusterDestinationRules(kubeconfig, io.env ?? process.env);
    } catch (error) {
      // Printing a plan made without the cluster would be the clobbering --cluster exists to prevent.
      io.stderr.write(`--cluster: cannot read DestinationRules from the cluster: ${(error as Error).message}\n`);
      return 2;
    }
  }
  const result = injectManifests(input.documents, inputObjects.objects, contextObjects.objects, options, clusterRules);
  for (const warning of result.warnings) io.stderr.write(`${warning}\n`);
  if (!cluster) {
    for (const [host, rules] of result.assumed) {
      const which = rules.length === 0 ? 'none' : rules.join(', ');
      io.stderr.write(`note: without --cluster, assumed the cluster holds these DestinationRules for ${host}: ${which}\n`);
    }
  }
  if (result.denials.length > 0) {
    for (const denial of result.denials) io.stderr.write(`${denial}\n`);
    return 1;
  }
  io.stdout.write(result.output);
  return 0;
}
