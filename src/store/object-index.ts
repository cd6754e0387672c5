// A keyed object store with index functions, the shape of client-go's
// Indexer: objects by namespace/name, by namespace, and by whatever keys each
// index function derives from an object (a VirtualService's referenced
// hosts, its mesh host claims). A lookup is one Map hit, so 10 or 10,000
// objects cost the same; keys are computed once, when an object changes.

/** The metadata the index reads; cluster-scoped objects have no namespace. */
export interface IndexedObject {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}

/** Keys of one object under one index; may be empty. */
export type IndexFunction<T> = (object: T) => readonly string[];

interface Entry<T> {
  object: T;
  keys: Map<string, readonly string[]>;
}

const keyOf = (namespace: string, name: string): string => `${namespace}/${name}`;

export class ObjectIndex<T extends IndexedObject> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly byNamespace = new Map<string, Map<string, T>>();
  private readonly indexes = new Map<string, Map<string, Map<string, T>>>();

  constructor(private readonly indexers: Readonly<Record<string, IndexFunction<T>>> = {}) {
    for (const name of Object.keys(indexers)) this.indexes.set(name, new Map());
  }

  size(): number {
    return this.entries.size;
  }

  get(namespace: string, name: string): T | undefined {
    return this.entries.get(keyOf(namespace, name))?.object;
  }

  upsert(object: T): void {
    const name = object?.metadata?.name;
    const namespace = object?.metadata?.namespace ?? '';
    if (typeof name !== 'string' || name === '' || typeof namespace !== 'string') return;
    const key = keyOf(namespace, name);
    this.removeKey(key);
    const keys = new Map<string, readonly string[]>();
    for (const [index, indexer] of Object.entries(this.indexers)) {
      const derived = [...new Set(safeKeys(indexer, object))];
      keys.set(index, derived);
      const buckets = this.indexes.get(index)!;
      for (const value of derived) {
        let bucket = buckets.get(value);
        if (!bucket) buckets.set(value, (bucket = new Map()));
        bucket.set(key, object);
      }
    }
    this.entries.set(key, { object, keys });
    let names = this.byNamespace.get(namespace);
    if (!names) this.byNamespace.set(namespace, (names = new Map()));
    names.set(name, object);
  }

  delete(namespace: string, name: string): boolean {
    return this.removeKey(keyOf(namespace, name));
  }

  /** Objects of one namespace ('' for cluster-scoped), ordered by name. */
  inNamespace(namespace: string): readonly T[] {
    const names = this.byNamespace.get(namespace);
    return names ? [...names.keys()].sort().map((name) => names.get(name)!) : [];
  }

  all(): readonly T[] {
    return [...this.byNamespace.keys()].sort().flatMap((namespace) => this.inNamespace(namespace));
  }

  /** Objects an index function gave `value` for, ordered by namespace/name. */
  byIndex(index: string, value: string): readonly T[] {
    const bucket = this.indexes.get(index)?.get(value);
    if (!bucket) return [];
    return [...bucket.keys()].sort().map((key) => bucket.get(key)!);
  }

  replaceNamespace(namespace: string, objects: readonly T[]): void {
    for (const name of [...(this.byNamespace.get(namespace)?.keys() ?? [])]) this.removeKey(keyOf(namespace, name));
    for (const object of objects) if ((object?.metadata?.namespace ?? '') === namespace) this.upsert(object);
  }

  replaceAll(objects: readonly T[]): void {
    this.entries.clear();
    this.byNamespace.clear();
    for (const buckets of this.indexes.values()) buckets.clear();
    for (const object of objects) this.upsert(object);
  }

  private removeKey(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.entries.delete(key);
    for (const [index, values] of entry.keys) {
      const buckets = this.indexes.get(index)!;
      for (const value of values) {
        const bucket = buckets.get(value);
        bucket?.delete(key);
        if (bucket?.size === 0) buckets.delete(value);
      }
    }
    const namespace = entry.object.metadata.namespace ?? '';
    const names = this.byNamespace.get(namespace);
    names?.delete(entry.object.metadata.name);
    if (names?.size === 0) this.byNamespace.delete(namespace);
    return true;
  }
}

/** An index function reads untrusted objects (standalone admits whatever /validate allowed): a throw means no keys. */
function safeKeys<T>(indexer: IndexFunction<T>, object: T): readonly string[] {
  try {
    return indexer(object);
  } catch {
    return [];
  }
}
