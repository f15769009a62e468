/**
 * Runs a task now and then every interval, one run at a time (a slow API never piles up
 * requests), and not at all while the tab is hidden. Stopped for good by `stop()`.
 */
export class Poller {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private stopped = false;
  private paused = false;
  private controller: AbortController | undefined;
  /** A trigger arrived while a run was in flight: run again as soon as it ends. */
  private rerun = false;
  private readonly onVisibility = (): void => {
    if (!document.hidden && !this.paused) this.trigger();
  };

  constructor(
    private readonly task: (signal: AbortSignal) => Promise<void>,
    private intervalMs: number,
  ) {
    document.addEventListener('visibilitychange', this.onVisibility);
  }

  /** Runs the task at once (after the current run, if any) and resumes the schedule. */
  trigger(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) {
      // The run in flight may carry stale parameters: cancel it; its finally reschedules.
      this.controller?.abort();
      this.rerun = true;
      return;
    }
    void this.run();
  }

  /** Auto-refresh off: only `trigger()` runs the task. */
  setPaused(paused: boolean): void {
    this.paused = paused;
    if (paused) {
      clearTimeout(this.timer);
      this.timer = undefined;
    } else this.trigger();
  }

  setInterval(ms: number): void {
    this.intervalMs = ms;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.controller?.abort();
    document.removeEventListener('visibilitychange', this.onVisibility);
  }

  private async run(): Promise<void> {
    this.running = true;
    this.controller = new AbortController();
    try {
      await this.task(this.controller.signal);
    } catch {
      // the task shows its own errors; the schedule goes on
    } finally {
      this.running = false;
      this.controller = undefined;
    }
    if (this.stopped) return;
    if (this.rerun) {
      this.rerun = false;
      void this.run();
      return;
    }
    if (!this.paused && !document.hidden) this.timer = setTimeout(() => void this.run(), this.intervalMs);
  }
}
