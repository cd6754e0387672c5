// Short, one-line text for denials, warnings and logs: admission input is
// untrusted, so anything from it that reaches a message is bounded here.

/** SPEC §5: warnings under 120 characters are kind to terminals. */
export const MAX_WARNING_LENGTH = 119;

/** At most `maxChars` characters, the last one `…` when something was cut. */
export function clip(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars - 1)}…`;
}

/** Control characters from input escaped, so one message stays one line. */
export function singleLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A warning as kubectl will print it: one line, under 120 characters. */
export function warningLine(text: string): string {
  return clip(singleLine(text), MAX_WARNING_LENGTH);
}

/** A user-supplied value quoted for a message, clipped so the message stays short. */
export function quote(value: string, maxChars = 24): string {
  return JSON.stringify(clip(value, maxChars));
}

/** JSON-ish type name for messages: `null` and `array` are not `object` to a reader. */
export function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * The value and its type, short and on one line. Never serialises containers:
 * admission input can be deeply nested, and JSON.stringify would recurse.
 */
export function describeValue(value: unknown): string {
  const type = jsonTypeOf(value);
  switch (type) {
    case 'string':
      return `${JSON.stringify(clip(value as string, 40))} (string)`;
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${String(value)} (${type})`;
    case 'null':
      return 'null';
    case 'array':
      return 'a list';
    case 'object':
      return 'an object';
    default:
      return `a value of type ${type}`;
  }
}
