/**
 * What the handler writes straight to stdout (its CloudWatch Embedded Metric Format records, which
 * bypass `console` so that Lambda does not prefix them), line by line, so that tests can read those
 * lines and scan them for secrets like the rest of the handler's log.
 */
export interface StdoutCapture {
  /** Stops capturing: stdout writes go through unchanged again. */
  restore(): void;
  /**
   * Runs `write` with capturing paused, for a harness that echoes captured console output (which
   * itself ends on stdout and must not be captured twice).
   */
  passThrough(write: () => void): void;
}

/** Calls `onLine` with every complete line written to process.stdout until `restore()`. */
export function captureStdoutLines(onLine: (line: string) => void): StdoutCapture {
  const original = process.stdout.write;
  let pending = '';
  let paused = false;
  const capture = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
    if (paused) return (original as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
    pending += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      onLine(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    if (callback) process.nextTick(callback);
    return true;
  };
  process.stdout.write = capture as typeof process.stdout.write;
  return {
    restore() {
      if (pending !== '') onLine(pending);
      pending = '';
      process.stdout.write = original;
    },
    passThrough(write) {
      paused = true;
      try {
        write();
      } finally {
        paused = false;
      }
    },
  };
}
