// Card "Per-class metrics": support, precision, recall, F1 and the class each
// one is most often mistaken for, as the server's metrics route computes them
// (tb_fmnist_plugin/metrics.py), with a recall sparkline over the steps (the
// series' recall only, each sparkline drawn once per series and kept); plus
// the diagnoses' columns where the tag has them (class-columns.ts). For a tag
// whose counts are pixels or tokens: an IoU column (class-columns.ts) with its
// own sparkline, and the hint says pixel accuracy and mean IoU.
// Sortable by any column; a class name picks the class of the trend card.
import type { ClassMetrics, MetricsResponse, MetricsSeries } from "../api";
import { formatCount, formatMetric, formatShare } from "../logic/format";
import { classColumn } from "../logic/series";
import { countWithUnit, isDense } from "../logic/units";
import { card, fillWhenLoaded, type CardContext } from "./card";
import { ChartMemo, SERIES_COLOURS, sparkline } from "./charts";
import { extraColumns, type ExtraColumn } from "./class-columns";
import { h } from "./dom";
import type { PanelView } from "./state";

const TABLE_ROW_LIMIT = 200;

type SortDir = 1 | -1;
/** The metrics' columns after the class name; "confused" sorts by the count. */
const HEADERS: [string, string][] = [["name", "Class"], ["support", "Support"], ["precision", "Precision"], ["recall", "Recall"], ["f1", "F1"], ["confused", "Confused with"]];

export class ClassTable {
  private sort: { key: string; dir: SortDir } = { key: "index", dir: 1 };
  private showAllRows = false;
  /** The sparklines drawn, by series answer (a new answer when the steps change) and class. */
  private sparks = new ChartMemo<SVGSVGElement>();

  constructor(private ctx: CardContext) {}

  render(v: PanelView, where: string): HTMLElement {
    const { store } = this.ctx;
    const el = card("tbc-classes", "Per-class metrics", "Per-class metrics");
    fillWhenLoaded(el, store.metrics(v.run, v.tag, v.step), "per-class metrics", (m) => {
      const unit = this.ctx.state.info(v.run, v.tag)?.unit;
      const summary = isDense(unit)
        ? `pixel accuracy ${formatShare(m.pixel_accuracy ?? m.accuracy)} of ${countWithUnit(m.total, unit)}, mean IoU ${formatMetric(m.mean_iou)}`
        : `accuracy ${formatShare(m.accuracy)} of ${formatCount(m.total)} examples`;
      el.appendChild(h("div", { class: "hint" }, `${where}${v.diff ? " (B)" : ""}: ${summary}. Click a header to sort, a class for its trend.`));
      fillWhenLoaded(el, extraColumns(this.ctx, v, m), "calibration and the compared set", (extra) => this.fill(el, v, m, extra));
    });
    return el;
  }

  private fill(el: HTMLElement, v: PanelView, m: MetricsResponse, extra: ExtraColumn[]): void {
    const { state, store, actions } = this.ctx;
    const rows = this.sorted(m.classes, v.shown, extra);
    const selectedClass = state.selectedClassOf(v);
    const { key, dir } = this.sort;
    const thead = h("tr", {});
    const headers: [string, string, string?][] = [...HEADERS.slice(0, 5), ...extra.map((c): [string, string, string] => [c.key, c.label, c.title]), HEADERS[5]];
    for (const [k, label, title] of headers) {
      const b = h("button", { type: "button", "data-sort": k, title }, label + (key === k ? (dir === 1 ? " ▲" : " ▼") : ""));
      b.addEventListener("click", () => {
        this.sort = { key: k, dir: key === k ? (-dir as SortDir) : k === "name" ? 1 : -1 };
        actions.redrawDetails();
      });
      thead.appendChild(h("th", { scope: "col", "aria-sort": key === k ? (dir === 1 ? "ascending" : "descending") : "none" }, b));
    }
    const dense = isDense(state.info(v.run, v.tag)?.unit);
    const trends: ("recall" | "iou")[] = dense ? ["recall", "iou"] : ["recall"];
    for (const t of trends) thead.appendChild(h("th", { scope: "col" }, t === "iou" ? "IoU trend" : "Recall trend"));
    const series = store.metricsSeries(v.run, v.tag, { metrics: trends });
    const tbody = h("tbody", {});
    const limit = this.showAllRows ? rows.length : Math.min(rows.length, TABLE_ROW_LIMIT);
    for (const c of rows.slice(0, limit)) {
      const nameBtn = h("button", { type: "button", class: "linklike", title: `Trend of ${c.name}` }, c.name);
      nameBtn.addEventListener("click", () => { state.selectClass(v, c.index); actions.redrawDetails(); });
      const confusedWith = c.most_confused_with === null ? null : m.classes[c.most_confused_with];
      const confused = confusedWith ? `${confusedWith.name} (${formatCount(c.most_confused_count)})` : "–";
      const cells = trends.map((t) => h("td", { "data-trend": t }));
      const spark = (s: MetricsSeries) => {
        if (s.steps.length < 2) return;
        trends.forEach((t, i) => {
          const label = `${t === "iou" ? "IoU" : "Recall"} of ${c.name} over ${s.steps.length} steps`;
          cells[i].appendChild(this.sparks.get(s, `${c.index}\u0000${label}`, () => sparkline(classColumn(s[t], c.index, s.classes), SERIES_COLOURS[i], label)));
        });
      };
      // a late answer fills only a table still shown (a kept sparkline is in one table at a time)
      if (series.value) spark(series.value);
      else series.load().then((s) => { if (cells[0].isConnected) spark(s); }, () => undefined);
      const extraCells = extra.map((col) => {
        const x = col.values[c.index] ?? null;
        return h("td", { "data-col": col.key, "data-value": x === null ? "" : String(x) }, col.format(x));
      });
      tbody.appendChild(h("tr", { class: selectedClass === c.index ? "selected" : "", "data-class-index": c.index },
        h("td", {}, nameBtn), h("td", {}, formatCount(c.support)), h("td", {}, formatMetric(c.precision)), h("td", {}, formatMetric(c.recall)),
        h("td", {}, formatMetric(c.f1)), ...extraCells, h("td", { class: "confused" }, confused), ...cells));
    }
    el.appendChild(h("div", { class: "table-wrap" }, h("table", { class: "classes" }, h("thead", {}, thead), tbody)));
    if (limit < rows.length) {
      const more = h("button", { type: "button" }, `Show all ${rows.length} classes`);
      more.addEventListener("click", () => { this.showAllRows = true; actions.redrawDetails(); });
      el.appendChild(more);
    }
  }

  /** The shown classes in the chosen order: a column (missing values last either way) or the panel's order. */
  private sorted(classes: ClassMetrics[], shown: number[], extra: ExtraColumn[]): ClassMetrics[] {
    const shownAt = new Map(shown.map((c, i) => [c, i]));
    const { key, dir } = this.sort;
    const column = extra.find((col) => col.key === key);
    const val = (c: ClassMetrics): number | string | null => {
      if (column) return column.values[c.index] ?? null;
      switch (key) {
        case "name": return c.name.toLocaleLowerCase();
        case "support": return c.support;
        case "precision": return c.precision;
        case "recall": return c.recall;
        case "f1": return c.f1;
        case "confused": return c.most_confused_count;
        default: return shownAt.get(c.index) ?? c.index; // the panel's order (also for a column no longer shown)
      }
    };
    return classes.filter((c) => shownAt.has(c.index)).sort((a, b) => {
      const x = val(a), y = val(b);
      if (x === null && y === null) return a.index - b.index;
      if (x === null) return 1; // missing values last in both directions
      if (y === null) return -1;
      return (x < y ? -1 : x > y ? 1 : 0) * dir || a.index - b.index;
    });
  }
}
