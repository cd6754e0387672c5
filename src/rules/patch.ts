// JSON Patches are never written by hand: the rules mutate a structuredClone
// and diff it against the original, as controller-runtime's
// PatchResponseFromRaw does. The diff escapes `/` in keys as `~1` and adds a
// whole map where none existed, which hand-written patches get wrong.
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';

export type { Operation };

/** The minimal JSON Patch turning `original` into `mutated`; `[]` when they are equal. */
export function diffPatch(original: unknown, mutated: unknown): Operation[] {
  return jsonpatch.compare(original as object, mutated as object);
}
