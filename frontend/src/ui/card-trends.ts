// Card "Trends over steps": precision, recall and F1 of one class over every
// step (the selected class, else the one with the lowest recall at the shown
// step), and the share of its true class that went to the hovered or
// selected cell.
import type { MetricsResponse, MetricsSeries, Ratio } from "../api";
import { hasKind } from "../logic/diagnostics";
import { calibrationTrends } from "./calibration-trends";
import { card, fillWhenLoaded, type CardContext } from "./card";
import { lineChart, SERIES_COLOURS } from "./charts";
import { clear, h } from "./dom";
import type { Cell, PanelView } from "./state";

export class TrendsCard {
  private cellBox: HTMLElement | null = null;

  constructor(private ctx: CardContext) {}

  render(v: PanelView): HTMLElement {
    const { state, store } = this.ctx;
    const el = card("tbc-trends", "Trends over steps", "Trends over steps");
    const classBox = h("div", { id: "tbc-class-trend" });
    const cellBox = h("div", { id: "tbc-cell-trend" });
    this.cellBox = cellBox;
    el.append(classBox, cellBox);
    const calibrated = hasKind(state.info(v.run, v.tag)?.diagnostics, "reliability");
    const drawClass = (series: MetricsSeries, cls: number) => {
      classBox.appendChild(classChart(series, cls, v));
      if (calibrated) classBox.appendChild(calibrationTrends(store, v, cls));
    };
    fillWhenLoaded(classBox, store.metricsSeries(v.run, v.tag), "per-class series", (series) => {
      const cls = state.selectedClassOf(v);
      if (cls !== null && cls < series.class_names.length) {
        drawClass(series, cls);
      } else {
        fillWhenLoaded(classBox, store.metrics(v.run, v.tag, v.step), "per-class metrics", (m) => drawClass(series, lowestRecall(m)));
      }
    });
    const cell = state.hoveredCellOf(v) ?? state.selectedCellOf(v);
    if (!cell) {
      cellBox.appendChild(h("p", { class: "hint" }, "Hover or select a cell to see its trend."));
    } else {
      this.drawCellTrend(cellBox, v, cell);
    }
    return el;
  }

  /** A cell of the panel showing `view` was hovered: show its trend if that is the details panel. */
  hover(view: PanelView, cell: Cell): void {
    const state = this.ctx.state;
    const v = state.activeView();
    const box = this.cellBox;
    if (!v || !box || !box.isConnected || v.run !== view.run || v.tag !== view.tag) return;
    state.hoverCell(v, cell);
    const hovered = state.hoveredCellOf(v);
    if (hovered) this.drawCellTrend(box, v, hovered);
  }

  private drawCellTrend(box: HTMLElement, v: PanelView, cell: Cell): void {
    const { t, p } = cell;
    clear(box);
    fillWhenLoaded(box, this.ctx.store.cellSeries(v.run, v.tag, cell), "the cell trend", (s) => {
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
