// Strings that kubectl would read as something else must be quoted when
// `inject` prints them. The yaml library quotes what YAML 1.1 would misread
// (`yes`, `on`, `~`), but kubectl's decoder (sigs.k8s.io/yaml on go-yaml v2)
// goes further: it strips `_` and hands the rest to Go's strconv.ParseInt
// with base 0, so `0o17`, `0X1F`, `0B101`, `1_000` and `0x_1` are numbers
// there, and a label value printed plain then fails with "cannot unmarshal
// number into ... of type string". YAML 1.2 adds its own (`0o17`, `.inf`).
// A string is printed plain only when every one of them reads it back as
// the same string.
import { parse, Scalar, visit, type Document } from 'yaml';

// go-yaml v2 resolve.go: ints through strconv.ParseInt/ParseUint(base 0) after
// removing `_`, floats through its yamlStyleFloat pattern, `0b` binaries.
const GO_INT = /^[-+]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[0-9]+)$/;
const GO_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
// Timestamps are decoded to time.Time and re-encoded in another form.
const TIMESTAMP = /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt \t]|$)/;
/** Plain scalars longer than this are not numbers, booleans or nulls in any of the readers (and parsing them costs). */
const MAX_AMBIGUOUS_CHARS = 128;

/** Would some YAML reader kubectl users meet read `text`, printed plain, as anything but this string? */
export function isAmbiguousPlain(text: string): boolean {
  const compact = text.replace(/_/g, '');
  if (GO_INT.test(compact) || GO_FLOAT.test(compact) || TIMESTAMP.test(text)) return true;
  if (text.length > MAX_AMBIGUOUS_CHARS) return false;
  for (const version of ['1.1', '1.2'] as const) {
    try {
      if (parse(text, { version }) !== text) return true;
    } catch {
      return true;
    }
  }
  return false;
}

/** Force double quotes on every string scalar (keys too) that would be misread plain. */
export function quoteAmbiguousStrings(document: Document): void {
  visit(document, {
    Scalar(_key, node) {
      if (typeof node.value !== 'string') return;
      const style = node.type;
      if (style === Scalar.QUOTE_DOUBLE || style === Scalar.QUOTE_SINGLE || style === Scalar.BLOCK_LITERAL || style === Scalar.BLOCK_FOLDED) return;
      if (isAmbiguousPlain(node.value)) node.type = Scalar.QUOTE_DOUBLE;
    },
  });
}
