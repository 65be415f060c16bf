// A reliability diagram: per confidence bin, a bar up to the bin's accuracy,
// the gap to its mean confidence (shaded: over- or under-confidence, in the
// legend under the chart), the diagonal of perfect calibration, axes labelled
// "Confidence" and "Accuracy" with ticks at 0, 0.5 and 1, and the number of
// examples per bin below. Exact values are in data-* attributes and a table
// under the chart.
import { binGap, maxCount, reliabilityBins, type Bin, type BinsIn } from "../logic/reliability";
import { formatCount, formatMetric } from "../logic/format";
import { h, svg } from "./dom";

const W = 296, PLOT = 180, STRIP = 34, L = 50, R = 10, T = 8, GAP = 30, B = 18;
const TICKS = [0, 0.5, 1];

export interface DiagramOptions {
  /** "all" for the whole set, else the class's index. */
  scope: "all" | number;
  title: string;
  /** What the diagram's examples are (a tooltip on its caption). */
  help?: string;
  edges: number[];
  bins: BinsIn;
  ece: number | null;
}

export function reliabilityDiagram(o: DiagramOptions): HTMLElement {
  const bins = reliabilityBins(o.edges, o.bins);
  const H = T + PLOT + GAP + STRIP + B;
  const x = (v: number) => L + v * (W - L - R);
  const y = (v: number) => T + (1 - v) * PLOT;
  const stripTop = T + PLOT + GAP;
  const most = maxCount(bins);
  const total = bins.reduce((s, b) => s + b.count, 0);
  const label = `${o.title}: reliability diagram, ECE ${formatMetric(o.ece)}, ${formatCount(total)} examples`;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "reliability", role: "img", "aria-label": label });
  root.appendChild(svg("title", {}, label));
  // bars and gaps first, axes and the diagonal over them
  for (const b of bins) {
    if (b.count === 0) continue;
    const x0 = x(b.lo) + 0.5, width = Math.max(1, x(b.hi) - x(b.lo) - 1);
    const tip = binText(b);
    if (b.accuracy !== null) {
      const bar = svg("rect", { x: x0, y: y(b.accuracy), width, height: Math.max(0, y(0) - y(b.accuracy)), class: "rel-bar",
        "data-bin": b.index, "data-count": b.count, "data-accuracy": b.accuracy, "data-confidence": b.confidence ?? "" });
      bar.appendChild(svg("title", {}, tip));
      root.appendChild(bar);
    }
    const gap = binGap(b);
    if (gap !== null && b.accuracy !== null && b.confidence !== null && Math.abs(gap) > 0) {
      const top = y(Math.max(b.accuracy, b.confidence));
      const g = svg("rect", { x: x0, y: top, width, height: Math.abs(y(b.accuracy) - y(b.confidence)), class: gap > 0 ? "rel-gap over" : "rel-gap under" });
      g.appendChild(svg("title", {}, tip));
      root.appendChild(g);
    }
    const hCount = most > 0 ? (b.count / most) * STRIP : 0;
    const cnt = svg("rect", { x: x0, y: stripTop + STRIP - hCount, width, height: hCount, class: "rel-count", "data-bin": b.index, "data-count": b.count });
    cnt.appendChild(svg("title", {}, tip));
    root.appendChild(cnt);
  }
  root.appendChild(svg("line", { x1: x(0), y1: y(0), x2: x(1), y2: y(1), class: "rel-diagonal" }));
  root.appendChild(svg("line", { x1: L, y1: T, x2: L, y2: y(0), class: "axis" }));
  root.appendChild(svg("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), class: "axis" }));
  root.appendChild(svg("line", { x1: L, y1: stripTop + STRIP, x2: W - R, y2: stripTop + STRIP, class: "axis" }));
  const tick = (tx: number, ty: number, anchor: string, text: string, axis: string) =>
    svg("text", { x: tx, y: ty, "text-anchor": anchor, class: "tick", "data-axis": axis }, text);
  for (const v of TICKS) {
    root.append(svg("line", { x1: x(v), y1: y(0), x2: x(v), y2: y(0) + 3, class: "axis" }), svg("line", { x1: L - 3, y1: y(v), x2: L, y2: y(v), class: "axis" }),
      tick(x(v), y(0) + 12, v === 0 ? "start" : v === 1 ? "end" : "middle", String(v), "x"), tick(L - 5, y(v) + 3, "end", String(v), "y"));
  }
  root.append(svg("text", { x: x(0.5), y: y(0) + 24, "text-anchor": "middle", class: "axis-label", "data-axis": "x" }, "Confidence"),
    svg("text", { x: 10, y: y(0.5), "text-anchor": "middle", class: "axis-label", "data-axis": "y", transform: `rotate(-90 10 ${y(0.5)})` }, "Accuracy"),
    tick(L - 5, stripTop + 8, "end", formatCount(most), "n"), tick(L - 5, stripTop + STRIP, "end", "n", "n"));
  const fig = h("figure", { class: "chart-fig reliability-fig", "data-scope": String(o.scope), "data-ece": o.ece === null ? "" : String(o.ece), "data-total": total },
    h("figcaption", o.help ? { title: o.help } : {}, `${o.title}: ECE ${formatMetric(o.ece)}`), root, legend(), binTable(bins));
  return fig;
}

/** What the shading and the dashed line mean. */
function legend(): HTMLElement {
  const item = (cls: string, text: string, title: string) =>
    h("span", { class: "rel-legend-item", title }, h("span", { class: `rel-swatch ${cls}`, "aria-hidden": "true" }), text);
  return h("div", { class: "rel-legend" },
    item("bar", "accuracy", "Bar: the share of the bin's examples that are right"),
    item("over", "over-confidence", "Shaded above the bar: mean confidence higher than accuracy"),
    item("under", "under-confidence", "Shaded (dashed) above the confidence: accuracy higher than mean confidence"),
    item("diagonal", "perfect calibration", "Dashed diagonal: accuracy equal to confidence"));
}

function binText(b: Bin): string {
  return `confidence ${formatMetric(b.lo)}–${formatMetric(b.hi)}: ${formatCount(b.count)} examples, mean confidence ${formatMetric(b.confidence)}, accuracy ${formatMetric(b.accuracy)}`;
}

/** The non-empty bins' values as a table (collapsed). */
function binTable(bins: Bin[]): HTMLElement {
  const body = h("tbody", {});
  for (const b of bins) {
    if (b.count === 0) continue;
    body.appendChild(h("tr", { "data-bin": b.index }, h("td", {}, `${formatMetric(b.lo)}–${formatMetric(b.hi)}`), h("td", {}, formatCount(b.count)),
      h("td", {}, formatMetric(b.confidence)), h("td", {}, formatMetric(b.accuracy))));
  }
  const head = h("tr", {}, ...["Confidence bin", "Examples", "Mean confidence", "Accuracy"].map((t) => h("th", { scope: "col" }, t)));
  return h("details", { class: "bin-table" }, h("summary", {}, "Bin values"), h("table", { class: "classes" }, h("thead", {}, head), body));
}
