/** Options of {@link waitUntilOk}. */
export interface WaitOptions {
  timeoutMs: number;
  /** Stops waiting (with false) when aborted. */
  signal: AbortSignal;
  /** Stops waiting (with false) when this turns true, e.g. the process will not come back. */
  hopeless?: () => boolean;
  everyMs?: number;
}

/** Polls `url` until it answers 200; false when the time is up, the wait is aborted or hopeless. */
export async function waitUntilOk(url: string, { timeoutMs, signal, hopeless = () => false, everyMs = 100 }: WaitOptions): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !signal.aborted && !hopeless()) {
    if (await answersOk(url)) return true;
    await Bun.sleep(everyMs);
  }
  return false;
}

/** Whether GET `url` answers 200 within a second (no answer counts as no). */
export async function answersOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await response.body?.cancel();
    return response.status === 200;
  } catch (error) {
    if (error instanceof Error && (error.name === "TimeoutError" || isConnectionFailure(error))) return false;
    throw error;
  }
}

function isConnectionFailure(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ConnectionRefused" || code === "ECONNREFUSED" || code === "ECONNRESET" || code === "ConnectionClosed" || code === "FailedToOpenSocket";
}
