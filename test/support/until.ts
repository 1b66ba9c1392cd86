/** Polls `probe` every 100 ms until it returns something, for at most `ms`; throws naming `what` if it never does. */
export async function until<T>(probe: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  for (const started = Date.now(); Date.now() - started < ms; await new Promise((resolve) => setTimeout(resolve, 100))) {
    const found = await probe();
    if (found !== undefined) return found;
  }
  throw new Error(`${what} did not happen within ${ms / 1000} s`);
}
