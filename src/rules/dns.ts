// Is a host plausible as a DNS name (SPEC §3)? Checked before any lookup, so
// a host of 16,000 labels is one short denial instead of work that grows
// with its square. Istio's own check is stricter in places
// (`ValidateWildcardDomain` in pkg/config/validation/agent/validation.go:
// 255 characters, DNS-1123 labels, a wildcard only as the first label); this
// one keeps to the bounds that make lookups cheap and never denies a name
// Istio accepts, apart from SPEC's 253-character limit.

/** RFC 1035: a name is at most 253 characters in its text form. */
export const MAX_HOST_CHARS = 253;
/** RFC 1035: a label is at most 63 octets. */
export const MAX_HOST_LABEL_CHARS = 63;

/** Why `host` (non-empty, as written) is not a plausible DNS name, or undefined when it is. */
export function hostNameProblem(host: string): string | undefined {
  const name = host.trim();
  if (name.length > MAX_HOST_CHARS) {
    return `is ${name.length.toLocaleString('en-US')} characters long; a DNS name has at most ${MAX_HOST_CHARS}`;
  }
  const star = name.indexOf('*');
  if (star !== -1 && !(name === '*' || (name.startsWith('*.') && name.indexOf('*', 1) === -1))) {
    return 'may hold `*` only as its whole first label (`*.example.com`)';
  }
  // A bounded name from here on: one pass over at most 253 characters.
  for (let start = 0, index = 0; ; index++) {
    const dot = name.indexOf('.', start);
    const last = dot === -1;
    const labelChars = (last ? name.length : dot) - start;
    // A trailing dot (`istio.io.`) is an absolute name, as Istio allows.
    if (labelChars === 0 && !(last && index > 0)) return `has an empty label (${index === 0 ? 'leading dot' : 'two dots in a row'}); write the name without it`;
    if (labelChars > MAX_HOST_LABEL_CHARS) {
      return `label ${index + 1} is ${labelChars} characters long; a DNS label has at most ${MAX_HOST_LABEL_CHARS}`;
    }
    if (last) break;
    start = dot + 1;
  }
  return undefined;
}
