// Card "Trends over steps": precision, recall and F1 of one class over every
// step (the selected class, else the one with the lowest recall at the shown
// step), and the share of its true class that went to the hovered or
// selected cell.
import type { MetricsResponse, MetricsSeries, Ratio } from "../api";
import { card, fillWhenLoaded, type CardContext } from "./card";
import { lineChart, SERIES_COLOURS } from "./charts";
import { clear, h } from "./dom";
import type { Cell, PanelView } from "./state";

export class TrendsCard {
  private hoverCell: Cell | null = null;
  private cellBox: HTMLElement | null = null;

  constructor(private ctx: CardContext) {}

  render(v: PanelView): HTMLElement {
    const { state, store } = this.ctx;
    const el = card("tbc-trends", "Trends over steps", "Trends over steps");
    const classBox = h("div", { id: "tbc-class-trend" });
    const cellBox = h("div", { id: "tbc-cell-trend" });
    this.cellBox = cellBox;
    el.append(classBox, cellBox);
    fillWhenLoaded(classBox, store.metricsSeries(v.run, state.tag), "per-class series", (series) => {
      const cls = state.selectedClass;
      if (cls !== null && cls < series.class_names.length) {
        classBox.appendChild(classChart(series, cls, v));
      } else {
        fillWhenLoaded(classBox, store.metrics(v.run, state.tag, v.step), "per-class metrics",
          (m) => classBox.appendChild(classChart(series, lowestRecall(m), v)));
      }
    });
    const sel = state.selectedCell;
    const cell = this.hoverCell ?? (sel && sel.run === v.run ? sel : null);
    if (!cell) {
      cellBox.appendChild(h("p", { class: "hint" }, "Hover or select a cell to see its trend."));
    } else {
      this.drawCellTrend(cellBox, v, cell);
    }
    return el;
  }

  /** A cell of `run` was hovered: show its trend if `run` is the details run. */
  hover(run: string, cell: Cell): void {
    const v = this.ctx.state.activeView();
    const box = this.cellBox;
    if (v && box && box.isConnected && v.run === run) {
      this.hoverCell = cell;
      this.drawCellTrend(box, v, cell);
    }
  }

  private drawCellTrend(box: HTMLElement, v: PanelView, cell: Cell): void {
    const { t, p } = cell;
    clear(box);
    fillWhenLoaded(box, this.ctx.store.cellSeries(v.run, this.ctx.state.tag, cell), "the cell trend", (s) => {
      const shares = s.counts.map((c, i) => (s.row_totals[i] > 0 ? c / s.row_totals[i] : null));
      let max = 0;
      for (const x of shares) if (x !== null && x > max) max = x;
      box.appendChild(lineChart({
        title: `Share of true ${v.names[t]} predicted as ${v.names[p]}`,
        steps: s.steps, marker: v.step, percent: true, yMax: max > 0 ? Math.min(1, max * 1.1) : 1,
        series: [{ name: `${v.names[t]} → ${v.names[p]}`, values: shares, colour: SERIES_COLOURS[3] }],
      }));
    });
  }
}

/** The class with the lowest recall (the first on a tie; 0 if no class has one). */
function lowestRecall(m: MetricsResponse): number {
  let best: { index: number; recall: number } | null = null;
  for (const c of m.classes) if (c.recall !== null && (best === null || c.recall < best.recall)) best = { index: c.index, recall: c.recall };
  return best ? best.index : 0;
}

function classChart(series: MetricsSeries, cls: number, v: PanelView): HTMLElement {
  const pick = (arr: Ratio[][]) => arr.map((row) => (row ? row[cls] ?? null : null));
  return lineChart({
    title: `${series.class_names[cls] ?? cls}: precision, recall, F1 (run ${v.run})`,
    steps: series.steps, marker: v.step, yMax: 1,
    series: [
      { name: "recall", values: pick(series.recall), colour: SERIES_COLOURS[0] },
      { name: "precision", values: pick(series.precision), colour: SERIES_COLOURS[1] },
      { name: "F1", values: pick(series.f1), colour: SERIES_COLOURS[2] },
    ],
  });
}
