/**
 * At most `limit` calls per key at once; the rest wait their turn in the order they came. A call
 * that finishes hands its place straight to the next waiting one, so a newcomer never jumps the
 * queue. A failed call frees its place like any other.
 */
export function createTurns(limit: number): <T>(key: string, work: () => Promise<T>) => Promise<T> {
  const keys = new Map<string, { running: number; waiting: (() => void)[] }>();
  return async (key, work) => {
    let turns = keys.get(key);
    if (!turns) keys.set(key, (turns = { running: 0, waiting: [] }));
    if (turns.running < limit) turns.running += 1;
    else await new Promise<void>((resolve) => turns.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = turns.waiting.shift();
      if (next) next();
      else if (--turns.running === 0) keys.delete(key);
    }
  };
}
