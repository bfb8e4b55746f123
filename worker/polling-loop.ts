/**
 * A background pass run every interval, one at a time (the next waits for the last to finish),
 * for the outbox relay, the notifier and Prometheus' targets file. A failed pass is reported and
 * the loop goes on: the next pass picks up whatever the failed one left.
 */
export interface PollingLoop {
  start(): void;
  /** Stops scheduling and waits for a pass under way. */
  stop(): Promise<void>;
}

export function createPollingLoop(
  pass: () => Promise<unknown>,
  intervalMs: number,
  onError?: (error: unknown) => void,
): PollingLoop {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;

  const tick = () => {
    running = pass()
      .then(
        () => undefined,
        (error: unknown) => onError?.(error),
      )
      .finally(() => {
        running = null;
        if (timer !== null) timer = setTimeout(tick, intervalMs);
      });
  };

  return {
    start() {
      if (timer === null) timer = setTimeout(tick, 0);
    },
    async stop() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
}
