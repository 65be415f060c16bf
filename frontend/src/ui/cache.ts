// The one promise cache behind every route the tab reads: a request is made
// once per key, its result is readable at once after it arrived (so a redraw
// from cached data needs no await), a failed request is forgotten (the next
// use asks again), and the least recently used entries go first beyond
// `limit` (reading an entry's value or loading it again counts as a use).

/** One cached request: `load()` starts it (once) and `value` is its result once it has arrived. */
export interface Cached<T> {
  readonly value: T | undefined;
  load(): Promise<T>;
}

export class PromiseCache<T> {
  /** Most entries kept (the least recently used are dropped first). */
  limit = Infinity;
  private promises = new Map<string, Promise<T>>();
  private values = new Map<string, T>();

  /** The entry for `key`; `fetch` runs on the first `load()` (again after a failure). */
  entry(key: string, fetch: () => Promise<T>): Cached<T> {
    const cache = this;
    return {
      get value() { return cache.use(key); },
      load: () => this.load(key, fetch),
    };
  }

  /** Put an already known value (e.g. one that came with another answer). */
  put(key: string, value: T): void {
    this.promises.set(key, Promise.resolve(value));
    this.values.set(key, value);
    this.trim();
  }

  clear(): void {
    this.promises.clear();
    this.values.clear();
  }

  private load(key: string, fetch: () => Promise<T>): Promise<T> {
    const cached = this.promises.get(key);
    if (cached) {
      this.touch(key, cached);
      return cached;
    }
    const p = fetch();
    this.promises.set(key, p);
    p.then(
      (v) => { if (this.promises.get(key) === p) this.values.set(key, v); },
      () => { if (this.promises.get(key) === p) this.promises.delete(key); },
    );
    this.trim();
    return p;
  }

  /** The value of `key` if it has arrived, now the most recently used. */
  private use(key: string): T | undefined {
    const value = this.values.get(key);
    if (value !== undefined) this.touch(key, this.promises.get(key)!);
    return value;
  }

  /** Make `key` the most recently used (Map order is the order of use). */
  private touch(key: string, promise: Promise<T>): void {
    this.promises.delete(key);
    this.promises.set(key, promise);
  }

  private trim(): void {
    while (this.promises.size > this.limit) {
      const oldest = this.promises.keys().next().value as string;
      this.promises.delete(oldest);
      this.values.delete(oldest);
    }
  }
}
