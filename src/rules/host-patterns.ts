// Wildcard patterns that can cover a host, walked lazily. Building every
// suffix of a name up front costs the square of its length (a 32 KB host of
// 16,000 labels ran a 192 MB heap out of memory); walking the dots and asking
// the caller's map only at lengths it holds costs one pass over the name.
//
// Istio picks the most specific DestinationRule host by suffix the same way
// (`MostSpecificHostMatch` in pilot/pkg/model/config.go): the name itself,
// then `*.<suffix>` for ever shorter suffixes, then `*`.

/** A set of lengths, or a map counting them. */
export type LengthSet = { has(length: number): boolean };

/** Every pattern that covers `fqdn`, most specific first, each once; lazily, so a caller can stop early. */
export function* hostPatterns(fqdn: string, wildcardLengths?: LengthSet): Generator<string> {
  yield fqdn;
  const length = fqdn.length;
  for (let dot = fqdn.indexOf('.'); dot !== -1; dot = fqdn.indexOf('.', dot + 1)) {
    // `*.` plus what follows this dot.
    const patternLength = length - dot + 1;
    if (wildcardLengths !== undefined && !wildcardLengths.has(patternLength)) continue;
    const pattern = `*.${fqdn.slice(dot + 1)}`;
    // `*.example.com` asked about itself: already yielded as the name.
    if (pattern !== fqdn) yield pattern;
  }
  if (fqdn !== '*') yield '*';
}

/**
 * The most specific pattern covering `fqdn` that `held` holds. `wildcardLengths`
 * (lengths of the `*.…` patterns held, or a superset) lets the walk skip
 * building suffixes no held pattern can equal.
 */
export function mostSpecificPattern(fqdn: string, held: { has(pattern: string): boolean }, wildcardLengths?: LengthSet): string | undefined {
  for (const pattern of hostPatterns(fqdn, wildcardLengths)) {
    if (held.has(pattern)) return pattern;
  }
  return undefined;
}

/** Length of a `*.…` pattern, or undefined for an exact host or `*`: what `wildcardLengths` counts. */
export function wildcardLength(pattern: string): number | undefined {
  return pattern.startsWith('*.') ? pattern.length : undefined;
}
