// The one walk over a VirtualService (SPEC §3). The input is whatever a
// client sent, so everything is narrowed from `unknown` here, one level at a
// time: the walk never recurses into user data, hence no stack overflow on
// deep junk. It keeps nothing per route entry: problems go to a bounded sink,
// subset references to a table of numbers, paths are written only for a
// problem or warning that is kept (a 100,000-entry route is 2.8 MiB).
import { hostNameProblem } from './dns.js';
import { fullServiceName, resolveHost } from './hosts.js';
import { misplacedDestinationField, misplacedRuleWeight, MISPLACED_WEIGHT_MESSAGE, ShortFormTable } from './mistakes.js';
import { ProblemSink } from './problem-sink.js';
import { destinationPath, Place, ReferenceTable } from './reference-table.js';
import { describeValue } from './text.js';
import type { WeightPolicy } from './types.js';
import { isValidWeight, RouteWeights, WarningSink, type RouteDestination } from './weights.js';

/** Path of the object itself, when it is not even an object. */
export const ROOT_PATH = '$';
/** The API server and kubectl show every warning; a screenful is enough. */
export const MAX_WARNINGS = 20;

type JsonRecord = Record<string, unknown>;

export interface Walk {
  /** Every problem but missing subsets: the first MAX_PROBLEM_LINES and the count. */
  problems: ProblemSink;
  /** The first MAX_WARNINGS warnings and the count of all. */
  warnings: WarningSink;
  /** Destinations naming a subset. */
  references: ReferenceTable;
  /** Destinations written `name.ns` or `name.ns.svc`, which Istio takes literally. */
  shortForms: ShortFormTable;
}

export function emptyWalk(): Walk {
  return { problems: new ProblemSink(), warnings: new WarningSink(MAX_WARNINGS), references: new ReferenceTable(), shortForms: new ShortFormTable() };
}

/**
 * The walk is written not to throw on any JSON; this guard is for what JSON
 * cannot carry (getters, proxies) because an exception here would become an
 * HTTP 500, which the API server reports far less clearly than a denial.
 */
export function safeWalk(virtualService: unknown, namespace: string, clusterDomain: string, weightPolicy: WeightPolicy): Walk {
  try {
    return walkVirtualService(virtualService, namespace, clusterDomain, weightPolicy);
  } catch (error) {
    const walk = emptyWalk();
    walk.problems.addProblem(internalProblem(error));
    return walk;
  }
}

export function internalProblem(error: unknown): { path: string; kind: 'shape'; message: string } {
  const reason = error instanceof Error ? error.message : 'unknown error';
  return { path: ROOT_PATH, kind: 'shape', message: `could not be validated: ${reason}` };
}

function walkVirtualService(virtualService: unknown, namespace: string, clusterDomain: string, weightPolicy: WeightPolicy): Walk {
  const walk = emptyWalk();
  const { problems, references, shortForms } = walk;
  // Routes name the same host many times in a row: check and resolve it once per run.
  let last: HostInfo | undefined;
  const hostInfo = (host: string): HostInfo => {
    if (last?.written !== host) {
      const problem = hostNameProblem(host);
      const resolved = problem === undefined ? resolveHost(host, namespace, clusterDomain) : '';
      const fullName = problem === undefined ? fullServiceName(host, clusterDomain) : undefined;
      last = { written: host, problem, resolved, shortForm: fullName === undefined ? undefined : shortForms.formOf(host.trim(), fullName) };
    }
    return last;
  };
  const shape = (path: string, message: string): void => problems.add(path, 'shape', message);
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

  const scratch: RouteDestination = { host: '', subset: undefined, port: undefined };
  /**
   * Narrow one Destination at (place, rule, position); on success return its
   * resolved host, subset and port. Paths are written only for a problem.
   */
  const destination = (value: unknown, place: Place, rule: number, position: number, traffic: boolean): RouteDestination | undefined => {
    if (value === undefined) return void shape(destinationPath(place, rule, position), 'is missing; it needs at least a host');
    if (!isRecord(value)) return void shape(destinationPath(place, rule, position), `must be an object with a host, got ${describeValue(value)}`);
    const host = field(value, 'host');
    const subset = field(value, 'subset');
    // Raw YAML only: in a cluster the structural schema refuses or prunes `name` before admission.
    const name = field(value, 'name');
    const legacyName = name === undefined ? undefined : misplacedDestinationField(name, host);
    if (legacyName !== undefined) shape(`${destinationPath(place, rule, position)}.name`, legacyName);
    const info = typeof host === 'string' && host.trim() !== '' ? hostInfo(host) : undefined;
    const hostProblem =
      host === undefined ? (legacyName === undefined ? 'is missing' : undefined)
      : typeof host !== 'string' ? `must be a string, got ${describeValue(host)}`
      : info === undefined ? 'must not be empty'
      // Before resolving or any lookup: an implausible name costs one short denial.
      : info.problem;
    if (hostProblem !== undefined) shape(`${destinationPath(place, rule, position)}.host`, hostProblem);
    // Proto3 reads an empty subset as "no subset", so "" names nothing.
    const subsetOk = subset === undefined || typeof subset === 'string';
    if (!subsetOk) shape(`${destinationPath(place, rule, position)}.subset`, `must be a string, got ${describeValue(subset)}`);
    if (hostProblem !== undefined || !subsetOk || info === undefined) return undefined;
    const named = typeof subset === 'string' && subset !== '' ? subset : undefined;
    let pair = -1;
    if (named !== undefined) {
      pair = references.pairOf(info.resolved, named);
      references.addPair(pair, place, rule, position, traffic);
    }
    if (info.shortForm !== undefined) shortForms.add(info.shortForm, place, rule, position, pair);
    const port = field(value, 'port');
    const number = isRecord(port) ? field(port, 'number') : undefined;
    // One scratch object for every destination: nothing is allocated per route entry (RouteWeights copies what it keeps).
    scratch.host = info.resolved;
    scratch.subset = named;
    scratch.port = typeof number === 'number' ? number : undefined;
    return scratch;
  };

  /** `value` as a list; anything else but absent is a shape problem at `spec.<kind>[index]<suffix>` (at `spec.<kind>` without an index). */
  const list = (value: unknown, kind: RouteKind, index: number | undefined, suffix: string): readonly unknown[] | undefined => {
    if (value === undefined) return undefined;
    if (Array.isArray(value)) return value as unknown[];
    shape(index === undefined ? `spec.${kind}` : `spec.${kind}[${index}]${suffix}`, `must be a list, got ${describeValue(value)}`);
    return undefined;
  };

  const weights = new RouteWeights(weightPolicy, problems, walk.warnings);
  const routes = (rule: JsonRecord, kind: RouteKind, index: number, place: Place): void => {
    // No route (redirect, directResponse, delegate): nothing to weigh.
    const route = list(field(rule, 'route'), kind, index, '.route');
    if (!route) return;
    weights.start(kind, index, route.length);
    // An index loop, not forEach: holes of a sparse array (possible in-process) read as undefined entries.
    for (let position = 0; position < route.length; position++) {
      const entry = route[position];
      if (!isRecord(entry)) {
        shape(`spec.${kind}[${index}].route[${position}]`, `must be an object with a destination, got ${describeValue(entry)}`);
        weights.add(position, false, undefined, undefined);
        continue;
      }
      const weight = field(entry, 'weight');
      const rawDestination = field(entry, 'destination');
      // The widely copied guide's mistake; raw YAML only, as the API server refuses or prunes it.
      if (isRecord(rawDestination) && field(rawDestination, 'weight') !== undefined) {
        problems.add(`spec.${kind}[${index}].route[${position}].destination.weight`, 'weight', MISPLACED_WEIGHT_MESSAGE);
      }
      // SPEC §10: what gets a share of requests (a weight Istio can use and > 0, or the only destination).
      const traffic = route.length === 1 || (isValidWeight(weight) && weight > 0);
      const target = destination(rawDestination, place, index, position, traffic);
      weights.add(position, true, weight, target);
    }
    weights.finish();
  };

  for (const [kind, place] of ROUTE_PLACES) {
    const rules = list(field(spec, kind), kind, undefined, '') ?? [];
    for (let index = 0; index < rules.length; index++) {
      const rule = rules[index];
      if (!isRecord(rule)) {
        shape(`spec.${kind}[${index}]`, `must be an object, got ${describeValue(rule)}`);
        continue;
      }
      if (field(rule, 'weight') !== undefined) problems.add(`spec.${kind}[${index}].weight`, 'weight', misplacedRuleWeight(`spec.${kind}[${index}]`));
      routes(rule, kind, index, place);
      if (kind !== 'http') continue;
      const mirror = field(rule, 'mirror');
      if (mirror !== undefined) destination(mirror, Place.HttpMirror, index, 0, false);
      const mirrors = list(field(rule, 'mirrors'), kind, index, '.mirrors') ?? [];
      for (let position = 0; position < mirrors.length; position++) {
        const policy = mirrors[position];
        if (!isRecord(policy)) {
          shape(`spec.http[${index}].mirrors[${position}]`, `must be an object with a destination, got ${describeValue(policy)}`);
          continue;
        }
        destination(field(policy, 'destination'), Place.HttpMirrors, index, position, false);
      }
    }
  }
  return walk;
}

type RouteKind = 'http' | 'tcp' | 'tls';
const ROUTE_PLACES: ReadonlyArray<readonly [RouteKind, Place]> = [['http', Place.HttpRoute], ['tcp', Place.TcpRoute], ['tls', Place.TlsRoute]];

interface HostInfo {
  written: string;
  problem: string | undefined;
  resolved: string;
  /** Its index in the walk's short forms, when it is `name.ns` or `name.ns.svc`. */
  shortForm: number | undefined;
}

export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Own properties only: `constructor` or a `__proto__` key must not be read as a field. */
export function field(record: JsonRecord, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
