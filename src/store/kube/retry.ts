// Jittered exponential backoff and sleeps that `close()` can cut short.

export interface BackoffOptions {
  /** Delay ceiling of the first retry. */
  baseMs: number;
  /** Cap on any one delay. */
  maxMs: number;
  /**
   * `full`: uniform in [0, ceiling] — spreads writers contending for one
   * object best. `equal`: uniform in [ceiling/2, ceiling] — never retries at
   * once, for reconnect loops that must not spin.
   */
  jitter: 'full' | 'equal';
}

/** Delay before retry number `attempt` (0-based). */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return options.jitter === 'full' ? random() * ceiling : ceiling / 2 + (random() * ceiling) / 2;
}

/** Timers that all resolve early when `cancelAll()` is called (on close). */
export class Sleeper {
  private readonly pending = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.pending.delete(entry);
          resolve();
        }, Math.max(0, ms)),
        resolve,
      };
      this.pending.add(entry);
    });
  }

  cancelAll(): void {
    for (const entry of this.pending) {
      clearTimeout(entry.timer);
      entry.resolve();
    }
    this.pending.clear();
  }
}
