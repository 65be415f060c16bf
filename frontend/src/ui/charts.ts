// Small SVG line charts for per-class and per-cell trends over steps, their
// lines thinned to their pixel width (logic/thin.ts), kept between redraws.
import { thinLine } from "../logic/thin";
import { h, svg } from "./dom";

export interface Series { name: string; values: (number | null)[]; colour: string }

// Okabe–Ito colours: distinguishable with the common colour-vision deficiencies.
export const SERIES_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7"];

/** Above this many steps a chart has no dots (each with its value as a tooltip), just its thinned line. */
const DOTS_MAX_STEPS = 60;

/** A drawn line chart; `setMarker` moves the shown step's marker (null hides it) without drawing it again. */
export interface LineChart { readonly el: HTMLElement; setMarker(step: number | null): void }

export function lineChart(opts: {
  title: string;
  steps: number[];
  series: Series[];
  marker: number | null;
  yMax?: number;
  percent?: boolean;
  width?: number;
  height?: number;
}): LineChart {
  const W = opts.width ?? 320, H = opts.height ?? 140;
  const L = 38, R = 8, T = 8, B = 22;
  const steps = opts.steps;
  let yMax = opts.yMax ?? 0;
  if (opts.yMax === undefined) for (const s of opts.series) for (const v of s.values) if (v !== null && v > yMax) yMax = v;
  if (!(yMax > 0)) yMax = 1;
  const xMin = steps.length ? steps[0] : 0, xMax = steps.length ? steps[steps.length - 1] : 1;
  const x = (s: number) => L + (xMax > xMin ? ((s - xMin) / (xMax - xMin)) * (W - L - R) : (W - L - R) / 2);
  const y = (v: number) => T + (1 - v / yMax) * (H - T - B);
  const fmt = (v: number) => (opts.percent ? `${Math.round(v * 100)}%` : String(Math.round(v * 100) / 100));
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "chart", role: "img", "aria-label": opts.title });
  root.appendChild(svg("title", {}, opts.title));
  root.appendChild(svg("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }));
  root.appendChild(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }));
  root.appendChild(svg("text", { x: L - 4, y: T + 4, "text-anchor": "end", class: "tick" }, fmt(yMax)));
  root.appendChild(svg("text", { x: L - 4, y: H - B, "text-anchor": "end", class: "tick" }, fmt(0)));
  root.appendChild(svg("text", { x: L, y: H - 6, "text-anchor": "start", class: "tick" }, `step ${xMin}`));
  root.appendChild(svg("text", { x: W - R, y: H - 6, "text-anchor": "end", class: "tick" }, `${xMax}`));
  const marker = svg("line", { y1: T, y2: H - B, class: "marker" });
  root.appendChild(marker);
  const setMarker = (step: number | null) => {
    if (step === null || !steps.length) {
      marker.setAttribute("visibility", "hidden");
      return;
    }
    const mx = String(x(step));
    marker.setAttribute("x1", mx);
    marker.setAttribute("x2", mx);
    marker.removeAttribute("visibility");
  };
  setMarker(opts.marker);
  const xs = steps.map(x);
  const dots = steps.length <= DOTS_MAX_STEPS;
  for (const s of opts.series) {
    let d = "";
    for (const line of thinLine(xs, s.values, true)) {
      line.forEach((p, i) => { d += `${i ? "L" : "M"}${p.x.toFixed(1)},${y(p.y).toFixed(1)}`; });
    }
    const path = svg("path", { d: d || "M0,0", fill: "none", stroke: s.colour, "stroke-width": 1.8 });
    path.appendChild(svg("title", {}, s.name));
    root.appendChild(path);
    if (!dots) continue;
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v) || i >= steps.length) return;
      const dot = svg("circle", { cx: xs[i].toFixed(1), cy: y(v).toFixed(1), r: 2.2, fill: s.colour });
      dot.appendChild(svg("title", {}, `${s.name} at step ${steps[i]}: ${fmt(v)}`));
      root.appendChild(dot);
    });
  }
  const legend = h("div", { class: "legend" });
  for (const s of opts.series) {
    const sw = h("span", { class: "swatch" });
    sw.style.backgroundColor = s.colour;
    legend.appendChild(h("span", { class: "legend-item" }, sw, s.name));
  }
  return { el: h("figure", { class: "chart-fig" }, h("figcaption", {}, opts.title), root, legend), setMarker };
}

/** A tiny sparkline (no axes) for table rows, its line thinned to its width. */
export function sparkline(values: (number | null)[], colour: string, label: string): SVGSVGElement {
  const W = 80, H = 20;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "spark", role: "img", "aria-label": label });
  const count = values.length;
  const xs = values.map((_, i) => (count > 1 ? (i / (count - 1)) * (W - 2) + 1 : W / 2));
  const points = (thinLine(xs, values)[0] ?? []).map((p) => `${p.x.toFixed(1)},${(H - 1 - p.y * (H - 2)).toFixed(1)}`);
  root.appendChild(svg("polyline", { points: points.join(" "), fill: "none", stroke: colour, "stroke-width": 1.5 }));
  root.appendChild(svg("title", {}, label));
  return root;
}

/** Charts kept for as long as the data they draw (an answer the store keeps)
 * lives, so a redraw with the same data (another step) reuses them instead
 * of drawing thousands of points again. `key` names what else the chart
 * depends on (class, title). */
export class ChartMemo<C> {
  private built = new WeakMap<object, Map<string, C>>();

  get(data: object, key: string, build: () => C): C {
    let byKey = this.built.get(data);
    if (!byKey) this.built.set(data, (byKey = new Map()));
    let chart = byKey.get(key);
    if (chart === undefined) byKey.set(key, (chart = build()));
    return chart;
  }
}
