// Card "Trends over steps": precision, recall and F1 of one class over every
// step (the selected class, else the one with the lowest recall at the shown
// step), and the share of its true class that went to the hovered or
// selected cell. It asks only for that class's series; the charts are drawn
// once per series answer and kept, so another step only moves their marker.
import type { MetricsResponse, MetricsSeries, SeriesMetric } from "../api";
import { hasKind } from "../logic/diagnostics";
import { classColumn } from "../logic/series";
import { calibrationTrends } from "./calibration-trends";
import { card, fillWhenLoaded, type CardContext } from "./card";
import { ChartMemo, lineChart, SERIES_COLOURS, type LineChart } from "./charts";
import { clear, h } from "./dom";
import type { Cell, PanelView } from "./state";

/** What the class chart draws (metrics_series' `metrics`). */
const CLASS_METRICS: SeriesMetric[] = ["precision", "recall", "f1"];
/** The line colours on a dark page: Okabe–Ito with its lighter sky blue for
 * the blue, each at a contrast ratio above 3 with the dark background. */
const DARK_SERIES_COLOURS = ["#56B4E9", "#E69F00", "#009E73", "#CC79A7"];

/** The line colours for the page's theme. */
function lineColours(): string[] {
  return document.documentElement.dataset.theme === "dark" ? DARK_SERIES_COLOURS : SERIES_COLOURS;
}

export class TrendsCard {
  private cellBox: HTMLElement | null = null;
  private charts = new ChartMemo<LineChart>();

  constructor(private ctx: CardContext) {}

  render(v: PanelView): HTMLElement {
    const { state, store } = this.ctx;
    const el = card("tbc-trends", "Trends over steps", "Trends over steps");
    const classBox = h("div", { id: "tbc-class-trend" });
    const cellBox = h("div", { id: "tbc-cell-trend" });
    this.cellBox = cellBox;
    el.append(classBox, cellBox);
    const calibrated = hasKind(state.info(v.run, v.tag)?.diagnostics, "reliability");
    const drawClass = (cls: number) => {
      fillWhenLoaded(classBox, store.metricsSeries(v.run, v.tag, { metrics: CLASS_METRICS, classes: [cls] }), "per-class series", (series) => {
        classBox.appendChild(this.shown(series, `${cls}\u0000${v.run}`, v.step, () => classChart(series, cls, v)));
        if (calibrated) classBox.appendChild(calibrationTrends(store, v, cls, (data, key, build) => this.shown(data, key, v.step, build)));
      });
    };
    const selected = state.selectedClassOf(v);
    if (selected !== null && selected < v.names.length) {
      drawClass(selected);
    } else {
      fillWhenLoaded(classBox, store.metrics(v.run, v.tag, v.step), "per-class metrics", (m) => drawClass(lowestRecall(m)));
    }
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
      const title = `Share of true ${v.names[t]} predicted as ${v.names[p]}`;
      box.appendChild(this.shown(s, title, v.step, () => {
        const shares = s.counts.map((c, i) => (s.row_totals[i] > 0 ? c / s.row_totals[i] : null));
        let max = 0;
        for (const x of shares) if (x !== null && x > max) max = x;
        return lineChart({
          title, steps: s.steps, marker: v.step, percent: true, yMax: max > 0 ? Math.min(1, max * 1.1) : 1,
          series: [{ name: `${v.names[t]} → ${v.names[p]}`, values: shares, colour: lineColours()[3] }],
        });
      }));
    });
  }

  /** The chart of `data` (drawn by `build` the first time), its marker at `step`. */
  private shown(data: object, key: string, step: number, build: () => LineChart): HTMLElement {
    // drawn again in the other theme (its line colours differ)
    const chart = this.charts.get(data, `${key}\u0000${document.documentElement.dataset.theme ?? ""}`, build);
    chart.setMarker(step);
    return chart.el;
  }
}

/** The class with the lowest recall (the first on a tie; 0 if no class has one). */
function lowestRecall(m: MetricsResponse): number {
  let best: { index: number; recall: number } | null = null;
  for (const c of m.classes) if (c.recall !== null && (best === null || c.recall < best.recall)) best = { index: c.index, recall: c.recall };
  return best ? best.index : 0;
}

function classChart(series: MetricsSeries, cls: number, v: PanelView): LineChart {
  const pick = (rows: MetricsSeries["recall"]) => classColumn(rows, cls, series.classes);
  const colours = lineColours();
  return lineChart({
    title: `${series.class_names[cls] ?? cls}: precision, recall, F1 (run ${v.run})`,
    steps: series.steps, marker: v.step, yMax: 1,
    series: [
      { name: "recall", values: pick(series.recall), colour: colours[0] },
      { name: "precision", values: pick(series.precision), colour: colours[1] },
      { name: "F1", values: pick(series.f1), colour: colours[2] },
    ],
  });
}
