// Card "Forgetting and data map" (per-example record): forgetting counts per
// class (Toneva et al., ICLR 2019) and the data map of the evaluated set
// (Swayamdipta et al., EMNLP 2020) as a scatter on a canvas: x = variability,
// y = confidence, coloured by region. Hover shows an example; a click on a
// legend region or a dragged rectangle lists the examples selected, paged.
import type { DataMapResponse, ForgettingResponse } from "../api";
import { formatProbability } from "../logic/format";
import { nearestPoint, PAGE_SIZE, pointsInRect, regionCounts, regionMembers, spanRect, type Rect } from "../logic/members";
import { card, fillWhenLoaded, type CardContext } from "./card";
import { clear, h } from "./dom";
import { exampleTile, pager, thumbCanvas } from "./record-thumbs";
import type { PanelView } from "./state";

/** Colours of the regions easy, ambiguous, hard (Okabe–Ito). */
const REGION_COLOURS = ["#009E73", "#E69F00", "#0072B2"];
const W = 440, H = 320, L = 42, R = 10, T = 10, B = 34;
/** Variability of a probability is at most 0.5: the x axis spans [0, 0.5]. */
const X_MAX = 0.5;

type Chosen = { region: number } | { rect: Rect } | null;

export class DataMapCard {
  private key = "";
  private chosen: Chosen = null;
  private offset = 0;

  constructor(private ctx: CardContext) {}

  render(v: PanelView): HTMLElement {
    const { store } = this.ctx;
    const el = card("tbc-data-map", "Forgetting and data map", "Forgetting and data map");
    const key = `${v.run}\u0000${v.tag}`;
    if (key !== this.key) { this.key = key; this.chosen = null; this.offset = 0; }
    el.appendChild(h("div", { class: "hint" }, `Run ${v.run}, over all of its evaluations. Forgetting: correct at one evaluation, wrong at the next (Toneva et al., 2019). Data map: mean (confidence) and standard deviation (variability) of the probability of the given label (Swayamdipta et al., 2020).`));
    const forgetting = h("div", { class: "rec-forgetting" });
    const map = h("div", { class: "rec-data-map" });
    el.append(forgetting, map);
    fillWhenLoaded(forgetting, store.forgetting(v.run, v.tag), "the forgetting counts", (f) => forgetting.appendChild(forgettingTable(f, v.names)));
    fillWhenLoaded(map, store.dataMap(v.run, v.tag), "the data map", (d) => this.drawMap(map, v, d));
    return el;
  }

  private drawMap(box: HTMLElement, v: PanelView, d: DataMapResponse): void {
    const sx = (x: number) => L + (Math.min(x, X_MAX) / X_MAX) * (W - L - R);
    const sy = (y: number) => T + (1 - y) * (H - T - B);
    const fromPx = (px: number, py: number) => ({ x: ((px - L) / (W - L - R)) * X_MAX, y: 1 - (py - T) / (H - T - B) });
    const counts = regionCounts(d.region, d.regions.length);
    const drawnPoints = d.index.filter((_, i) => d.variability[i] !== null && d.confidence[i] !== null).length;
    const canvas = h("canvas", {
      class: "rec-scatter", id: "tbc-data-map-canvas", width: W, height: H, role: "img", "data-points": drawnPoints,
      "data-region-counts": JSON.stringify(counts), "aria-label": `Data map of ${drawnPoints} examples: x variability, y confidence`,
    });
    const tip = h("div", { class: "rec-tip", hidden: true, id: "tbc-data-map-tip" });
    const paint = (band: Rect | null) => {
      const ctx = canvas.getContext("2d");
      if (!ctx) return;
      const fg = getComputedStyle(box).getPropertyValue("--fg").trim() || "#222";
      ctx.clearRect(0, 0, W, H);
      ctx.strokeStyle = fg;
      ctx.fillStyle = fg;
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(L, T); ctx.lineTo(L, H - B); ctx.lineTo(W - R, H - B);
      ctx.stroke();
      ctx.font = "10px sans-serif";
      ctx.fillText("1", L - 12, T + 8);
      ctx.fillText("0", L - 12, H - B);
      ctx.fillText("0", L, H - B + 12);
      ctx.fillText(String(X_MAX), W - R - 16, H - B + 12);
      ctx.fillText("variability (std of p(given)) →", L + 60, H - 6);
      ctx.save();
      ctx.translate(10, H - B - 30);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText("confidence (mean p(given)) →", 0, 0);
      ctx.restore();
      const chosenRegion = this.chosen && "region" in this.chosen ? this.chosen.region : null;
      for (let i = 0; i < d.index.length; i++) {
        const x = d.variability[i], y = d.confidence[i];
        if (x === null || y === null) continue;
        ctx.globalAlpha = chosenRegion === null || chosenRegion === d.region[i] ? 0.75 : 0.15;
        ctx.fillStyle = REGION_COLOURS[d.region[i]] ?? fg;
        ctx.fillRect(sx(x) - 1.5, sy(y) - 1.5, 3, 3);
      }
      ctx.globalAlpha = 1;
      const rect = band ?? (this.chosen && "rect" in this.chosen ? this.chosen.rect : null);
      if (rect) {
        ctx.strokeStyle = fg;
        ctx.setLineDash([4, 3]);
        ctx.strokeRect(sx(rect.x0), sy(rect.y1), sx(rect.x1) - sx(rect.x0), sy(rect.y0) - sy(rect.y1));
        ctx.setLineDash([]);
      }
    };
    let drag: { x: number; y: number; moved: boolean } | null = null;
    // the pointer in canvas pixels (the canvas may be drawn narrower than W in a narrow card) and in CSS pixels (the tooltip)
    const at = (e: MouseEvent) => {
      const b = canvas.getBoundingClientRect(), scale = b.width > 0 ? W / b.width : 1;
      return { px: (e.clientX - b.left) * scale, py: (e.clientY - b.top) * scale, cx: e.clientX - b.left, cy: e.clientY - b.top };
    };
    canvas.addEventListener("mousedown", (e) => { const p = at(e); drag = { x: p.px, y: p.py, moved: false }; });
    canvas.addEventListener("mousemove", (e) => {
      const p = at(e);
      if (drag && (e.buttons & 1)) {
        if (Math.abs(p.px - drag.x) + Math.abs(p.py - drag.y) > 3) drag.moved = true;
        if (drag.moved) { const a = fromPx(drag.x, drag.y), b = fromPx(p.px, p.py); paint(spanRect(a.x, a.y, b.x, b.y)); tip.hidden = true; return; }
      }
      this.hover(tip, v, d, nearestPoint(d.variability, d.confidence, sx, sy, p.px, p.py, 6), p.cx, p.cy);
    });
    canvas.addEventListener("mouseleave", () => { tip.hidden = true; });
    canvas.addEventListener("mouseup", (e) => {
      const start = drag;
      drag = null;
      if (!start || !start.moved) return;
      const p = at(e), a = fromPx(start.x, start.y), b = fromPx(p.px, p.py);
      this.choose({ rect: spanRect(a.x, a.y, b.x, b.y) });
    });
    const legend = h("div", { class: "rec-legend", id: "tbc-data-map-legend" });
    d.regions.forEach((name, r) => {
      const sw = h("span", { class: "swatch" });
      sw.style.backgroundColor = REGION_COLOURS[r] ?? "";
      const chosen = !!this.chosen && "region" in this.chosen && this.chosen.region === r;
      const b = h("button", { type: "button", "data-region": r, "aria-pressed": String(chosen), title: `List the ${name} examples` }, sw, `${name} (${counts[r].toLocaleString("en-US")})`);
      b.addEventListener("click", () => this.choose({ region: r }));
      legend.appendChild(b);
    });
    const th = d.thresholds;
    legend.appendChild(h("span", { class: "muted" }, `ambiguous: variability ≥ ${th.variability ?? "–"} (the set's 2/3 quantile); the others easy at confidence ≥ ${th.confidence ?? 0.5}, else hard. Drag a rectangle to list its examples.`));
    box.append(h("div", { class: "rec-scatter-wrap" }, canvas, tip), legend);
    paint(null);
    if (this.chosen) box.appendChild(this.list(v, d));
  }

  private choose(chosen: Chosen): void {
    this.chosen = chosen;
    this.offset = 0;
    this.ctx.actions.redrawDetails();
  }

  private hover(tip: HTMLElement, v: PanelView, d: DataMapResponse, i: number, px: number, py: number): void {
    if (i < 0) { tip.hidden = true; return; }
    if (tip.dataset.index === String(d.index[i]) && !tip.hidden) return;
    clear(tip);
    tip.dataset.index = String(d.index[i]);
    const step = d.thumbnail_step[i], tile = d.tile[i];
    if (step !== null && tile !== null) tip.appendChild(thumbCanvas(this.ctx.store, v.run, v.tag, { step, tile }, `Example ${d.index[i]}`).el);
    tip.append(h("strong", {}, `#${d.index[i]}`), ` ${v.names[d.label[i]] ?? d.label[i]} (${d.regions[d.region[i]]})`, h("br"),
      `confidence ${formatProbability(d.confidence[i])}, variability ${formatProbability(d.variability[i])}, correct ${formatProbability(d.correctness[i])}`);
    tip.style.left = `${Math.max(0, Math.min(px + 12, (tip.parentElement?.clientWidth ?? W) - 160))}px`;
    tip.style.top = `${py + 12}px`;
    tip.hidden = false;
  }

  /** The paged list of the chosen region's or rectangle's examples, by dataset index. */
  private list(v: PanelView, d: DataMapResponse): HTMLElement {
    const chosen = this.chosen!;
    const rows = "region" in chosen ? regionMembers(d.region, chosen.region) : pointsInRect(d.variability, d.confidence, chosen.rect);
    rows.sort((a, b) => d.index[a] - d.index[b]);
    const what = "region" in chosen ? `${d.regions[chosen.region]} examples` : "examples in the rectangle";
    const page = rows.slice(this.offset, this.offset + PAGE_SIZE);
    const grid = h("div", { class: "rec-grid", id: "tbc-data-map-list", "data-total": rows.length, "data-offset": this.offset,
      "data-selection": "region" in chosen ? d.regions[chosen.region] : "rect" });
    const drawn: Promise<boolean>[] = [];
    for (const i of page) {
      const step = d.thumbnail_step[i], tile = d.tile[i];
      grid.appendChild(exampleTile(this.ctx.store, v.run, v.tag, {
        index: d.index[i], thumbnail: step !== null && tile !== null ? { step, tile } : null,
        lines: [`conf ${formatProbability(d.confidence[i])}`, `var ${formatProbability(d.variability[i])}`],
        title: `#${d.index[i]}: given ${v.names[d.label[i]] ?? d.label[i]}, correct at ${formatProbability(d.correctness[i])} of the evaluations`,
      }, null, drawn));
    }
    const clearBtn = h("button", { type: "button", id: "tbc-data-map-clear" }, "Clear selection");
    clearBtn.addEventListener("click", () => this.choose(null));
    return h("div", { class: "rec-data-map-list" }, h("h3", {}, `${rows.length.toLocaleString("en-US")} ${what}`, " ", clearBtn),
      pager("tbc-data-map-pager", this.offset, page.length, rows.length, (o) => { this.offset = o; this.ctx.actions.redrawDetails(); }), grid);
  }
}

/** Forgetting counts per class: events, examples forgotten at least once, examples never learned. */
function forgettingTable(f: ForgettingResponse, names: string[]): HTMLElement {
  const pc = f.per_class;
  const table = h("table", { class: "rec-forgetting-table", id: "tbc-forgetting", "data-evaluations": f.evaluations },
    h("caption", {}, `Forgetting over ${f.evaluations} evaluation${f.evaluations === 1 ? "" : "s"}`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Class"), h("th", { scope: "col" }, "Forgetting events"),
      h("th", { scope: "col" }, "Forgotten examples"), h("th", { scope: "col" }, "Never learned"), h("th", { scope: "col" }, "Examples"))));
  const body = h("tbody", {});
  pc.forgetting_events.forEach((events, c) => {
    body.appendChild(h("tr", { "data-class": c, "data-events": events, "data-forgotten": pc.forgotten_examples[c], "data-never": pc.never_learned[c] },
      h("th", { scope: "row" }, names[c] ?? String(c)), h("td", {}, String(events)), h("td", {}, String(pc.forgotten_examples[c])),
      h("td", {}, String(pc.never_learned[c])), h("td", {}, String(pc.examples[c]))));
  });
  table.appendChild(body);
  return h("div", { class: "table-wrap" }, table);
}
