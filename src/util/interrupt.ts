/**
 * Clean-ups to run when the process is interrupted (SIGINT, SIGTERM): whoever creates a temporary file or folder
 * registers its removal here and unregisters it once the temporary is renamed into place or removed. The CLI
 * runs them from its signal handler; library callers that install no handler lose nothing (the next run
 * recognises and clears what a dead process left, see `clearStale` in `fs.ts`).
 */
const cleanups = new Set<() => void>();

/** Register a synchronous clean-up; returns its unregistration. */
export function onInterrupt(fn: () => void): () => void {
  cleanups.add(fn);
  return () => {
    cleanups.delete(fn);
  };
}

/** Run every registered clean-up, newest first (a failing one does not stop the others). */
export function runInterruptCleanups(): void {
  const all = [...cleanups].reverse();
  cleanups.clear();
  for (const fn of all) {
    try {
      fn();
    } catch {
      // Best effort: the next run clears what is left.
    }
  }
}
