/**
 * The wake-up between a connection's socket events and its read loop: the loop waits for input with a
 * deadline (autologout), and each event that may let it go on (data, the end, a close) wakes it.
 */
export class InputWaiter {
  private wake: (() => void) | undefined;

  /** Something arrived (input, or the end of the connection): wakes the waiting loop, if one waits. */
  notify(): void {
    this.wake?.();
  }

  /** Resolves true when {@link notify} is called, false after `timeoutMs` of silence. */
  wait(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve(false);
      }, timeoutMs);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(true);
      };
    });
  }
}
