// Messages that point at the real mistake (SPEC §3 "Point at the real
// mistake", SPEC §4 short forms): fields guides put in the wrong place, and
// Kubernetes DNS short forms that Istio does not expand.
import { fullServiceName, resolvedHostOf } from './hosts.js';
import { quote, warningLine } from './text.js';
import type { DestinationRule, Problem } from './types.js';

export const MISPLACED_WEIGHT_MESSAGE = 'weight belongs beside destination, not inside it';

export function misplacedRuleWeight(rulePath: string): string {
  return `weight belongs beside each destination in ${rulePath}.route, not on the rule`;
}

/**
 * `destination.name` is the pre-v1alpha3 field (v1alpha2 RouteRules named
 * the service there); a Destination names it in `host`.
 */
export function misplacedDestinationField(name: unknown, host: unknown): string | undefined {
  if (name === undefined) return undefined;
  if (host !== undefined) return 'is the pre-v1alpha3 field; host already names the service, so remove name';
  const suggestion = typeof name === 'string' && name.trim() !== '' ? `: write host: ${quote(name.trim(), 63)}` : '';
  return `is the pre-v1alpha3 field; a destination names its service in host${suggestion}`;
}

/** A destination host written `name.ns` or `name.ns.svc`. */
export interface ShortForm {
  /** `spec.http[0].route[1].destination.host` */
  hostPath: string;
  /** The path its subset reference carries, when it has one. */
  referencePath: string;
  written: string;
  /** What it was probably meant as: `name.ns.svc.<cluster domain>`. */
  fullName: string;
  subset: string | undefined;
}

/** `destinationPath`: the destination's path; the host's is built only for a short form. */
export function shortFormOf(host: string, clusterDomain: string, destinationPath: string, referencePath: string, subset: string | undefined): ShortForm | undefined {
  const fullName = fullServiceName(host, clusterDomain);
  return fullName === undefined ? undefined : { hostPath: `${destinationPath}.host`, referencePath, written: host.trim(), fullName, subset };
}

export interface ShortFormFindings {
  problems: Problem[];
  warnings: string[];
  /** Reference paths already reported here, so their subsets are not checked under the literal host too. */
  reported: Set<string>;
}

/**
 * Istio routes `reviews.prod` nowhere; only when the full name is a host a
 * DestinationRule names (so a service the cluster knows) is it surely a
 * mistake and not some external name. With a subset it is denied (the
 * subset is routed to nothing), without one it is a warning.
 */
export function shortFormFindings(
  shortForms: readonly ShortForm[],
  destinationRules: readonly DestinationRule[] | ((host: string) => readonly DestinationRule[]),
  clusterDomain: string,
): ShortFormFindings {
  const findings: ShortFormFindings = { problems: [], warnings: [], reported: new Set() };
  if (shortForms.length === 0) return findings;
  const isKnown = knownHosts(destinationRules, clusterDomain);
  for (const shortForm of shortForms) {
    if (!isKnown(shortForm.fullName)) continue;
    if (shortForm.subset !== undefined) {
      findings.problems.push({
        path: shortForm.hostPath,
        kind: 'host',
        message:
          `Istio takes ${quote(shortForm.written, 63)} literally (only dot-less names are expanded), so subset ${quote(shortForm.subset, 63)} ` +
          `is routed nowhere; ${shortForm.fullName} is probably meant`,
      });
      findings.reported.add(shortForm.referencePath);
    } else {
      // The fix first: a warning is clipped to one terminal line.
      findings.warnings.push(warningLine(`${shortForm.hostPath}: write ${shortForm.fullName}; Istio expands only dot-less names`));
    }
  }
  return findings;
}

/** Exact resolved hosts only: a mesh-wide `*` rule would make every name look known. */
function knownHosts(
  destinationRules: readonly DestinationRule[] | ((host: string) => readonly DestinationRule[]),
  clusterDomain: string,
): (fqdn: string) => boolean {
  const answers = new Map<string, boolean>();
  let all: Set<string> | undefined;
  return (fqdn) => {
    let known = answers.get(fqdn);
    if (known === undefined) {
      if (typeof destinationRules === 'function') {
        known = destinationRules(fqdn).some((rule) => resolvedHostOf(rule, clusterDomain) === fqdn);
      } else {
        all ??= new Set(destinationRules.map((rule) => resolvedHostOf(rule, clusterDomain)));
        known = all.has(fqdn);
      }
      answers.set(fqdn, known);
    }
    return known;
  };
}
