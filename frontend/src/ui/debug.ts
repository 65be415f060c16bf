// What the tests and the benchmark read: performance marks of the first draw
// and of slider redraws, and window.__tbConfusion (draw count, state, the
// values of a panel, a refresh of the run list).
import type { PanelView, TabState } from "./state";

/** The values and counts of one panel, shown classes only (rows true, columns predicted). */
interface DebugPanel { step: number; classes: string[]; values: (number | null)[][]; counts: number[][] }

interface DebugState {
  ready: boolean;
  draws: number;
  firstDrawMs: number | null;
  sliderRedrawMs: number[];
  state: () => Record<string, unknown>;
  /** A run's panel, or the difference panel for "". */
  panel: (run: string) => DebugPanel | null;
  refresh: () => Promise<void>;
}

declare global {
  interface Window { __tbConfusion?: DebugState }
}

export class DrawMarks {
  private first = false;
  private sliderStart: number | null = null;
  private debug: DebugState;

  constructor(private state: TabState, refresh: () => Promise<void>) {
    this.debug = {
      ready: false, draws: 0, firstDrawMs: null, sliderRedrawMs: [],
      state: () => this.snapshot(),
      panel: (run) => this.panel(run),
      refresh,
    };
    window.__tbConfusion = this.debug;
  }

  /** Whether the first matrix has been drawn (and painted). */
  get firstDrawDone(): boolean {
    return this.first;
  }

  /** A performance mark on the way to the first draw. */
  mark(name: string): void {
    if (!this.first) performance.mark(name);
  }

  /** The slider moved: the next draw is measured as a slider redraw. */
  sliderMoved(): void {
    this.sliderStart = performance.now();
  }

  /** The panels in `panelsEl` were drawn; `afterPaint(first)` runs in the next
   * animation frame (`first`: this was the first draw with a matrix). */
  drawn(panelsEl: HTMLElement, afterPaint: (first: boolean) => void): void {
    this.debug.draws++;
    this.debug.ready = true;
    panelsEl.dataset.draws = String(this.debug.draws);
    const sliderStart = this.sliderStart;
    this.sliderStart = null;
    const hasViews = this.state.views.length > 0;
    if (!this.first && hasViews) performance.mark("tbc-first-dom");
    requestAnimationFrame(() => {
      const now = performance.now();
      const first = !this.first && hasViews;
      if (first) {
        this.first = true;
        performance.mark("tbc-first-draw");
        this.debug.firstDrawMs = now;
      }
      if (sliderStart !== null) {
        performance.measure("tbc-slider-redraw", { start: sliderStart, end: now });
        this.debug.sliderRedrawMs.push(now - sliderStart);
      }
      afterPaint(first);
    });
  }

  private snapshot(): Record<string, unknown> {
    const s = this.state;
    return {
      tag: s.tag, runs: s.runs.slice(), activeRun: s.activeRun, steps: s.steps.slice(), targetStep: s.targetStep,
      norm: s.settings.norm, hideDiagonal: s.settings.hideDiagonal, order: s.settings.order, mode: s.mode, diffKind: s.diffKind,
      diffTagA: s.diffTagA, colourBy: s.settings.colourBy,
      panels: s.views.map((v) => ({ run: v.run, step: v.step, diff: v.diff, label: v.label, classes: v.shown.map((i) => v.names[i]) })),
      theme: document.documentElement.dataset.theme ?? "light",
      selection: JSON.parse(JSON.stringify(s.selection)),
    };
  }

  private panel(run: string): DebugPanel | null {
    const v: PanelView | undefined = this.state.views.find((x) => (run === "" ? x.diff : x.run === run && !x.diff));
    if (!v) return null;
    const n = v.values.n;
    return {
      step: v.step,
      classes: v.shown.map((i) => v.names[i]),
      values: v.shown.map((t) => v.shown.map((p) => { const x = v.values.data[t * n + p]; return Number.isFinite(x) ? x : null; })),
      counts: v.shown.map((t) => v.shown.map((p) => v.counts.data[t * n + p])),
    };
  }
}
