/**
 * Resources by key, built on first use and closed once unused for `idleMs` (built again when next asked for):
 * what holds much memory between uses — worker threads with their own ORT sessions — gives it back between a
 * program's phases instead of adding up (the study's PGD sets, then its defences, then its adaptive attacks).
 */
export class IdleCache<T> {
  private readonly entries = new Map<string, { value: Promise<T>; users: number; timer?: ReturnType<typeof setTimeout> }>();

  constructor(
    private readonly idleMs: number,
    private readonly close: (value: T) => Promise<unknown>,
  ) {}

  /** `use` on resource `key` (built by `make` when absent); it is not closed while any `use` of it runs. */
  async use<R>(key: string, make: () => Promise<T>, use: (value: T) => Promise<R>): Promise<R> {
    let entry = this.entries.get(key);
    if (!entry) {
      const made = { value: make(), users: 0 };
      this.entries.set(key, made);
      // One that failed to build is not kept: the next use tries again.
      made.value.catch(() => this.entries.get(key) === made && this.entries.delete(key));
      entry = made;
    }
    clearTimeout(entry.timer);
    entry.users++;
    try {
      return await use(await entry.value);
    } finally {
      if (--entry.users === 0) this.closeWhenIdle(key, entry);
    }
  }

  /** Close every resource not in use now (as if its idle time had passed). */
  async closeIdle(): Promise<void> {
    const idle = [...this.entries].filter(([, e]) => e.users === 0);
    for (const [key, e] of idle) {
      clearTimeout(e.timer);
      this.entries.delete(key);
    }
    await Promise.all(idle.map(([, e]) => e.value.then((v) => this.close(v), () => undefined)));
  }

  /** Close every resource now. */
  async clear(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const e of all) clearTimeout(e.timer);
    await Promise.all(all.map((e) => e.value.then((v) => this.close(v), () => undefined)));
  }

  private closeWhenIdle(key: string, entry: { value: Promise<T>; users: number; timer?: ReturnType<typeof setTimeout> }): void {
    entry.timer = setTimeout(() => {
      if (this.entries.get(key) !== entry || entry.users > 0) return;
      this.entries.delete(key);
      void entry.value.then((v) => this.close(v), () => undefined);
    }, this.idleMs);
    // A pending close must not keep the process alive.
    entry.timer.unref?.();
  }
}
