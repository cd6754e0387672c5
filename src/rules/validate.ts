// VirtualService validation (SPEC §3). The input is whatever a client sent,
// so everything is narrowed from `unknown` here, one level at a time: the
// walk never recurses into user data, hence no stack overflow on deep junk.
import { hostNameProblem } from './dns.js';
import { isDns1123Label } from './names.js';
import { namespaceOfHost, resolveHost } from './hosts.js';
import { misplacedDestinationField, misplacedRuleWeight, MISPLACED_WEIGHT_MESSAGE, shortFormFindings, shortFormOf, type ShortForm } from './mistakes.js';
import { checkSubsets, type SubsetReference } from './subsets.js';
import type { DestinationRule, Problem, ValidationContext, ValidationResult, WeightPolicy } from './types.js';
import { describeValue, singleLine, warningLine } from './text.js';
import { checkRouteWeights, WarningSink, type RouteEntry } from './weights.js';

export type { SubsetReference } from './subsets.js';

/** Path of the object itself, when it is not even an object. */
export const ROOT_PATH = '$';
/** More lines than this in one denial help nobody; the count of the rest is kept. */
export const MAX_PROBLEM_LINES = 100;
/** The API server and kubectl show every warning; a screenful is enough. */
export const MAX_WARNINGS = 20;

type JsonRecord = Record<string, unknown>;

interface Walk {
  problems: Problem[];
  /** The first MAX_WARNINGS warnings and the count of all. */
  warnings: WarningSink;
  references: SubsetReference[];
  /** Destinations written `name.ns` or `name.ns.svc`, which Istio takes literally. */
  shortForms: ShortForm[];
}

/**
 * `destinationRules` is either the candidates themselves or a lookup by
 * resolved host (a store's host index): with a lookup, the one walk of the
 * object also finds which hosts to look up, rather than a second walk first.
 */
export function validateVirtualService(
  virtualService: unknown,
  destinationRules: readonly DestinationRule[] | ((host: string) => readonly DestinationRule[]),
  ctx: ValidationContext,
): ValidationResult {
  return validateKeepingReferences(virtualService, destinationRules, ctx).result;
}

/**
 * validateVirtualService, plus what a later subset re-check needs without the
 * object (src/rules/subset-recheck.ts): the namespace and the subset
 * references that were looked up (not those already reported as short forms).
 */
export function validateKeepingReferences(
  virtualService: unknown,
  destinationRules: readonly DestinationRule[] | ((host: string) => readonly DestinationRule[]),
  ctx: ValidationContext,
): { result: ValidationResult; references: readonly SubsetReference[]; namespace: string; walkedReferences: readonly SubsetReference[] } {
  const namespace = namespaceFor(virtualService, ctx);
  const walk = safeWalk(virtualService, namespace, ctx);
  let subsetProblems: Problem[];
  let hostWarnings: string[] = [];
  let references: readonly SubsetReference[] = walk.references;
  try {
    // A short form that names a known service is reported as such; its
    // subset is then not looked up under the literal name as well.
    const hints = shortFormFindings(walk.shortForms, destinationRules, ctx.settings.clusterDomain);
    hostWarnings = hints.warnings;
    references = hints.reported.size === 0 ? walk.references : walk.references.filter((reference) => !hints.reported.has(reference.path));
    subsetProblems = [...hints.problems, ...subsetProblemsOf(references, destinationRules, namespace, ctx.settings)];
  } catch (error) {
    subsetProblems = [internalProblem(error)];
  }
  const result = { problems: sortByPath([...walk.problems, ...subsetProblems]), warnings: capWarnings(walk.warnings, hostWarnings) };
  return { result, references, namespace, walkedReferences: walk.references };
}

/** The subset half of validateVirtualService, also for references kept from an earlier walk (src/rules/subset-recheck.ts). */
export function subsetProblemsOf(
  references: readonly SubsetReference[],
  destinationRules: readonly DestinationRule[] | ((host: string) => readonly DestinationRule[]),
  namespace: string,
  settings: ValidationContext['settings'],
): Problem[] {
  try {
    const candidates = typeof destinationRules === 'function' ? candidatesFor(references, destinationRules) : destinationRules;
    return checkSubsets(references, candidates, namespace, settings);
  } catch (error) {
    return [internalProblem(error)];
  }
}

/** What `lookup` returns for each referenced host, each rule once, in reference order. */
function candidatesFor(references: readonly SubsetReference[], lookup: (host: string) => readonly DestinationRule[]): readonly DestinationRule[] {
  const first = references[0];
  if (first === undefined) return [];
  if (references.every((reference) => reference.host === first.host)) return lookup(first.host);
  const rules = new Set<DestinationRule>();
  const looked = new Set<string>();
  // A store answers hosts covered by the same rules (500 hosts under one `*`)
  // with the same array: walk it once, not once per host.
  const answers = new Set<readonly DestinationRule[]>();
  for (const { host } of references) {
    if (looked.has(host)) continue;
    looked.add(host);
    const answer = lookup(host);
    if (answers.has(answer)) continue;
    answers.add(answer);
    for (const rule of answer) rules.add(rule);
  }
  return [...rules];
}

export function subsetReferences(virtualService: unknown, ctx: ValidationContext): Array<{ path: string; host: string; subset: string }> {
  return safeWalk(virtualService, namespaceFor(virtualService, ctx), ctx).references.map(({ path, host, subset }) => ({ path, host, subset }));
}

/**
 * Namespaces one review may read directly before a denial: its own, the root
 * namespace, then those of the hosts. More than this and the rest are
 * answered from the cache (2,000 hosts `svc.tenant-<i>` were 2,002 LISTs).
 */
export const MAX_REFRESH_NAMESPACES = 16;

export interface RefreshPlan {
  /** Valid DNS-1123 namespace names, each once: own namespace, hosts' namespaces, root namespace. */
  namespaces: string[];
  /** Namespaces left out by MAX_REFRESH_NAMESPACES: the review answers for them from the cache. */
  omitted: number;
  /** Names that are not DNS-1123 labels (`..`, `a/b`, 64 characters) and were never going to be read. */
  invalid: number;
}

/** `namespaces` of `refreshPlan`. */
export function namespacesToRefresh(virtualService: unknown, ctx: ValidationContext, problems?: readonly Problem[]): string[] {
  return refreshPlan(virtualService, ctx, problems).namespaces;
}

/**
 * Which namespaces to re-read before denying. With `problems`, only the
 * hosts of the missing-subset references count (no other answer can change
 * by reading more). A name that is not a DNS-1123 label is dropped: an empty
 * or `..` namespace in a read path would list the whole cluster.
 */
export function refreshPlan(virtualService: unknown, ctx: ValidationContext, problems?: readonly Problem[]): RefreshPlan {
  const namespace = namespaceFor(virtualService, ctx);
  return refreshPlanOf(safeWalk(virtualService, namespace, ctx).references, namespace, ctx, problems);
}

/** refreshPlan from the references of a walk already made (`walkedReferences` of validateKeepingReferences), so the object is not walked again. */
export function refreshPlanOf(references: readonly SubsetReference[], namespace: string, ctx: ValidationContext, problems?: readonly Problem[]): RefreshPlan {
  const root = ctx.settings.rootNamespace;
  const missing = problems && new Set(problems.filter((problem) => problem.kind === 'subset').map((problem) => problem.path));
  const hosts = new Set<string>();
  const seen = new Set<string>();
  let invalid = 0;
  for (const reference of references) {
    if (missing && !missing.has(reference.path)) continue;
    const hostNamespace = namespaceOfHost(reference.host, ctx.settings.clusterDomain);
    if (hostNamespace === undefined || hostNamespace === namespace || hostNamespace === root || seen.has(hostNamespace)) continue;
    seen.add(hostNamespace);
    if (isDns1123Label(hostNamespace)) hosts.add(hostNamespace);
    else invalid++;
  }
  const fixed = [namespace, root].filter((name, index, all) => all.indexOf(name) === index);
  const valid = fixed.filter(isDns1123Label);
  invalid += fixed.length - valid.length;
  const room = Math.max(0, MAX_REFRESH_NAMESPACES - valid.length);
  const kept = [...hosts].slice(0, room);
  const own = valid.includes(namespace) ? [namespace] : [];
  const rootKept = root !== namespace && valid.includes(root) ? [root] : [];
  return { namespaces: [...own, ...kept, ...rootKept], omitted: hosts.size - kept.length, invalid };
}

/** `total`: how many problems there are when `problems` holds only the first of them (sorted). */
export function formatProblems(problems: readonly Problem[], total = problems.length): string {
  const lines = problems.slice(0, MAX_PROBLEM_LINES).map((problem) => singleLine(`${problem.path}: ${problem.message}`));
  const rest = total - lines.length;
  if (rest > 0) lines.push(`... and ${rest} more problem${rest === 1 ? '' : 's'}`);
  return lines.join('\n');
}

/**
 * `request.namespace` is authoritative (SPEC §5); offline callers may leave
 * it empty, and then the object's own namespace, then Kubernetes' default.
 */
export function namespaceFor(virtualService: unknown, ctx: ValidationContext): string {
  if (ctx.namespace !== '') return ctx.namespace;
  const metadata = isRecord(virtualService) ? field(virtualService, 'metadata') : undefined;
  const own = isRecord(metadata) ? field(metadata, 'namespace') : undefined;
  return typeof own === 'string' && own !== '' ? own : 'default';
}

/**
 * The walk is written not to throw on any JSON; this guard is for what JSON
 * cannot carry (getters, proxies) because an exception here would become an
 * HTTP 500, which the API server reports far less clearly than a denial.
 */
function safeWalk(virtualService: unknown, namespace: string, ctx: ValidationContext): Walk {
  try {
    return walkVirtualService(virtualService, namespace, ctx.settings.clusterDomain, ctx.settings.weightPolicy);
  } catch (error) {
    return { problems: [internalProblem(error)], warnings: new WarningSink(MAX_WARNINGS), references: [], shortForms: [] };
  }
}

function internalProblem(error: unknown): Problem {
  const reason = error instanceof Error ? error.message : 'unknown error';
  return { path: ROOT_PATH, kind: 'shape', message: `could not be validated: ${reason}` };
}

function walkVirtualService(virtualService: unknown, namespace: string, clusterDomain: string, weightPolicy: WeightPolicy): Walk {
  const walk: Walk = { problems: [], warnings: new WarningSink(MAX_WARNINGS), references: [], shortForms: [] };
  // Routes name the same host many times in a row: check and resolve it once per run.
  let last: { host: string; problem: string | undefined; resolved: string } | undefined;
  const hostInfo = (host: string): { problem: string | undefined; resolved: string } => {
    if (last?.host !== host) {
      const problem = hostNameProblem(host);
      last = { host, problem, resolved: problem === undefined ? resolveHost(host, namespace, clusterDomain) : '' };
    }
    return last;
  };
  const shape = (path: string, message: string): void => {
    walk.problems.push({ path, kind: 'shape', message });
  };
  if (!isRecord(virtualService)) {
    shape(ROOT_PATH, `a VirtualService must be an object, got ${describeValue(virtualService)}`);
    return walk;
  }
  const spec = field(virtualService, 'spec');
  if (spec === undefined) {
    shape('spec', 'is missing; a VirtualService needs a spec with http, tcp or tls routes');
    return walk;
  }
  if (!isRecord(spec)) {
    shape('spec', `must be an object, got ${describeValue(spec)}`);
    return walk;
  }

  /** Narrow one Destination; on success return its resolved host and subset. */
  const destination = (value: unknown, path: string, referencePath: string): { host: string; subset?: string; port?: number } | undefined => {
    if (value === undefined) return void shape(path, 'is missing; it needs at least a host');
    if (!isRecord(value)) return void shape(path, `must be an object with a host, got ${describeValue(value)}`);
    const host = field(value, 'host');
    const subset = field(value, 'subset');
    // Raw YAML only: in a cluster the structural schema refuses or prunes `name` before admission.
    const legacyName = misplacedDestinationField(field(value, 'name'), host);
    if (legacyName !== undefined) shape(`${path}.name`, legacyName);
    const hostProblem =
      host === undefined ? (legacyName === undefined ? 'is missing' : undefined)
      : typeof host !== 'string' ? `must be a string, got ${describeValue(host)}`
      : host.trim() === '' ? 'must not be empty'
      // Before resolving or any lookup: an implausible name costs one short denial.
      : hostInfo(host).problem;
    if (hostProblem !== undefined) shape(`${path}.host`, hostProblem);
    // Proto3 reads an empty subset as "no subset", so "" names nothing.
    const subsetOk = subset === undefined || typeof subset === 'string';
    if (!subsetOk) shape(`${path}.subset`, `must be a string, got ${describeValue(subset)}`);
    if (hostProblem !== undefined || !subsetOk || typeof host !== 'string') return undefined;
    const resolved = hostInfo(host).resolved;
    const named = typeof subset === 'string' && subset !== '' ? subset : undefined;
    if (named !== undefined) walk.references.push({ path: referencePath, host: resolved, subset: named });
    const shortForm = shortFormOf(host, clusterDomain, path, referencePath, named);
    if (shortForm) walk.shortForms.push(shortForm);
    const port = field(value, 'port');
    const number = isRecord(port) ? field(port, 'number') : undefined;
    return { host: resolved, subset: named, port: typeof number === 'number' ? number : undefined };
  };

  const routeEntry = (value: unknown, path: string): RouteEntry => {
    if (!isRecord(value)) {
      shape(path, `must be an object with a destination, got ${describeValue(value)}`);
      return { path, isObject: false, weight: { present: false } };
    }
    const weight = field(value, 'weight');
    const rawDestination = field(value, 'destination');
    // The widely copied guide's mistake; raw YAML only, as the API server refuses or prunes it.
    if (isRecord(rawDestination) && field(rawDestination, 'weight') !== undefined) {
      walk.problems.push({ path: `${path}.destination.weight`, kind: 'weight', message: MISPLACED_WEIGHT_MESSAGE });
    }
    const target = destination(rawDestination, `${path}.destination`, path);
    const entry: RouteEntry = { path, isObject: true, weight: weight === undefined ? { present: false } : { present: true, value: weight } };
    if (target) {
      // Length-prefixed, so no two destinations share a key; cheaper than JSON.stringify per entry.
      const subset = target.subset ?? '';
      entry.destinationKey = `${target.host.length}:${target.host}${subset.length}:${subset}${target.port ?? ''}`;
      entry.destination = target;
    }
    return entry;
  };

  const list = (value: unknown, path: string): unknown[] | undefined => {
    if (value === undefined) return undefined;
    // A copy, so holes of a sparse array (possible in-process) read as undefined entries instead of being skipped.
    if (Array.isArray(value)) return Array.from(value as unknown[]);
    shape(path, `must be a list, got ${describeValue(value)}`);
    return undefined;
  };

  for (const kind of ['http', 'tcp', 'tls'] as const) {
    const rules = list(field(spec, kind), `spec.${kind}`) ?? [];
    rules.forEach((rule, index) => {
      const rulePath = `spec.${kind}[${index}]`;
      if (!isRecord(rule)) return void shape(rulePath, `must be an object, got ${describeValue(rule)}`);
      const ruleWeight = field(rule, 'weight');
      if (ruleWeight !== undefined) walk.problems.push({ path: `${rulePath}.weight`, kind: 'weight', message: misplacedRuleWeight(rulePath) });
      // No route (redirect, directResponse, delegate): nothing to weigh.
      const route = list(field(rule, 'route'), `${rulePath}.route`);
      if (route) {
        const entries = route.map((entry, position) => routeEntry(entry, `${rulePath}.route[${position}]`));
        const findings = checkRouteWeights(`${rulePath}.route`, entries, weightPolicy, walk.warnings);
        // Not push(...list): a route of 200k entries would overflow the call stack.
        for (const problem of findings.problems) walk.problems.push(problem);
      }
      if (kind !== 'http') return;
      const mirror = field(rule, 'mirror');
      if (mirror !== undefined) destination(mirror, `${rulePath}.mirror`, `${rulePath}.mirror`);
      const mirrors = list(field(rule, 'mirrors'), `${rulePath}.mirrors`) ?? [];
      mirrors.forEach((policy, position) => {
        const policyPath = `${rulePath}.mirrors[${position}]`;
        if (!isRecord(policy)) return void shape(policyPath, `must be an object with a destination, got ${describeValue(policy)}`);
        destination(field(policy, 'destination'), `${policyPath}.destination`, `${policyPath}.destination`);
      });
    });
  }
  return walk;
}

/** The walk's warnings (first MAX_WARNINGS kept, all counted), then `more`: as if all were listed and then cut. */
function capWarnings(walked: WarningSink, more: readonly string[]): string[] {
  const total = walked.count + more.length;
  const listed = [...walked.kept, ...more];
  if (total <= MAX_WARNINGS) return listed;
  const kept = listed.slice(0, MAX_WARNINGS - 1);
  return [...kept, warningLine(`... and ${total - kept.length} more warnings`)];
}

/**
 * Document order: `spec.http[2]` before `spec.http[10]`, a route's sum before
 * its entries, so a denial reads top to bottom like the manifest.
 */
export function sortByPath(problems: readonly Problem[]): Problem[] {
  const keyed = problems.map((problem, index) => ({ problem, index, key: pathKey(problem.path) }));
  keyed.sort((a, b) => compareKeys(a.key, b.key) || a.index - b.index);
  return keyed.map(({ problem }) => problem);
}

function pathKey(path: string): Array<string | number> {
  return path.split(/[.[\]]+/).filter((part) => part !== '').map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

function compareKeys(a: ReadonlyArray<string | number>, b: ReadonlyArray<string | number>): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as string | number;
    const y = b[i] as string | number;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return a.length - b.length;
}

function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Own properties only: `constructor` or a `__proto__` key must not be read as a field. */
function field(record: JsonRecord, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
