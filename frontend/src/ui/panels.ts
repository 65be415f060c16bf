// The matrix panels (one heatmap per run, or the difference), the colour bar
// they share, and the tooltip of the hovered cell. A dense task's panel
// (pixels or tokens counted) says so in its head, with the step's mean IoU.
import { cssColor, diverging, LOG_DECADES, sequential } from "../logic/colors";
import { formatCount, formatShare, NORM_UNITS } from "../logic/format";
import { colourDomain } from "../logic/matrix";
import { exampleCellAt } from "../logic/members";
import { clear, h } from "./dom";
import { diagonalOutOfDomain, Heatmap } from "./heatmap";
import type { Point } from "./heatmap-cells";
import type { Actions, Cell, PanelView, TabState } from "./state";
import type { DataStore } from "./store";
import { countUnit, isDense, meanIouText, normUnitText, sharedUnit, type Unit } from "../logic/units";

const HOVER_TREND_DELAY_MS = 250;
const COLOUR_BAR_WIDTH = 200;
/** Largest and smallest width of a grid heatmap's cells (CSS px): the cells
 * shrink down to CELL_MIN so that the matrices fit side by side (two
 * 10-class matrices at 1280 px); below that the panels wrap. */
const CELL_MAX = 52;
const CELL_MIN = 28;
/** The gap between panels (.panels in styles.ts). */
const PANEL_GAP = 14;
/** The heatmap of the difference panel is kept under this key (run names cannot contain NUL). */
const DIFF_KEY = "\u0000diff";

interface PanelEntry { hm: Heatmap; view: PanelView | null; head: HTMLElement; filterNote: HTMLElement; section: HTMLElement }

export class Panels {
  readonly colourBar = h("div", { class: "colourbar", id: "tbc-colourbar" });
  readonly el = h("div", { class: "panels", id: "tbc-panels" });
  readonly tooltip = h("div", { id: "tbc-tooltip", role: "tooltip", hidden: true });
  private entries = new Map<string, PanelEntry>();
  private hoverTimer: number | null = null;

  /** `hoverCell`: a cell of the panel that shows `view` was hovered for a moment (its trend is worth drawing). */
  /** `store`: where a dense panel's mean IoU is asked for (none: not shown). */
  constructor(private state: TabState, private actions: Actions, private hoverCell: (view: PanelView, cell: Cell) => void,
              private store?: DataStore) {
    window.addEventListener("scroll", () => { this.tooltip.hidden = true; }, { passive: true });
    let resizing = 0;
    window.addEventListener("resize", () => {
      cancelAnimationFrame(resizing);
      resizing = requestAnimationFrame(() => this.fitCells());
    });
  }

  /** Draw `views`, one section each, on one colour scale. `why`: what to say when there is none. */
  draw(views: PanelView[], why: string | null): void {
    const { settings, targetStep: target } = this.state;
    // domain shared by all panels so colours compare across runs
    let domain = 0;
    // large matrices leave the diagonal out of the domain (drawn at the top colour), so errors get the scale
    const diagonalOut = !settings.hideDiagonal && views.some((v) => diagonalOutOfDomain(v.shown.length));
    for (const v of views) domain = Math.max(domain, colourDomain(v.values, v.shown, settings.hideDiagonal || diagonalOutOfDomain(v.shown.length)));
    const byConfidence = views.length > 0 && views.every((v) => v.confidence !== null);
    const unit = sharedUnit(views.map((v) => this.state.info(v.run, v.tag)?.unit));
    this.drawColourBar(domain, views.some((v) => v.diff), byConfidence, diagonalOut, unit);

    const seen = new Set<string>();
    const sections: HTMLElement[] = [];
    if (why !== null) sections.push(h("div", { class: "notice info" }, why));
    for (const v of views) {
      const key = v.diff ? DIFF_KEY : v.run;
      seen.add(key);
      const entry = this.entry(key);
      entry.view = v;
      const isActive = v.run === this.state.activeRun;
      const note = v.diff ? "" : target !== null && v.step !== target ? `step ${v.step} (nearest to ${target}; this run has no step ${target})` : `step ${v.step}`;
      const section = entry.section;
      section.className = `panel${isActive ? " active" : ""}`;
      section.dataset.run = v.run;
      section.dataset.step = String(v.step);
      section.setAttribute("aria-label", v.diff ? v.label : `Run ${v.run}, ${note}`);
      clear(entry.head);
      entry.head.append(h("h3", {}, v.diff ? v.label : v.run), h("span", { class: "step-note" }, note));
      const unit = this.state.info(v.run, v.tag)?.unit;
      if (isDense(unit)) this.denseHead(entry.head, v, unit);
      if (!v.diff && this.state.runs.length > 1) {
        const b = h("button", { type: "button", class: "details-btn", "aria-pressed": String(isActive) }, isActive ? "Details shown below" : "Show details");
        b.addEventListener("click", () => { this.state.activeRun = v.run; this.actions.redraw(); });
        entry.head.appendChild(b);
      }
      entry.hm.update({
        names: v.names, shown: v.shown, counts: v.counts, countsA: v.countsA, values: v.values, norm: settings.norm,
        confidence: byConfidence ? v.confidence : null,
        diff: v.diff, hideDiagonal: settings.hideDiagonal, domain, log: settings.logColour, label: v.diff ? v.label : `Run ${v.run}`,
        selected: selectedPair(this.state.selectedCellOf(v)),
        marked: exampleCell(this.state, v), unit,
      });
      entry.filterNote.hidden = v.shown.length > 0;
      sections.push(section);
    }
    const current = Array.from(this.el.children);
    if (current.length !== sections.length || current.some((c, i) => c !== sections[i])) {
      clear(this.el);
      for (const s of sections) this.el.appendChild(s);
    }
    for (const key of Array.from(this.entries.keys())) if (!seen.has(key)) this.entries.delete(key);
    this.fitCells();
  }

  /** Size the grid heatmaps' cells so that as many panels as possible (all,
   * ideally) stand side by side in the width there is, between CELL_MIN and CELL_MAX. */
  private fitCells(): void {
    const grids = Array.from(this.el.querySelectorAll<HTMLElement>(".panel .hm-grid"));
    const width = this.el.clientWidth;
    if (grids.length === 0 || width <= 0) return;
    const panels = this.el.querySelectorAll(".panel").length;
    const current = parseFloat(getComputedStyle(grids[0]).getPropertyValue("--cell")) || CELL_MAX;
    // what a panel needs besides its cells (headings, padding, borders), and its most classes
    let overhead = 0, k = 1;
    for (const g of grids) {
      const classes = Number(g.style.getPropertyValue("--k")) || 1;
      const section = g.closest<HTMLElement>(".panel") ?? g;
      const frame = section.offsetWidth - section.clientWidth + parseFloat(getComputedStyle(section).paddingLeft) * 2;
      overhead = Math.max(overhead, g.offsetWidth - classes * (current + 1) + frame);
      k = Math.max(k, classes);
    }
    let cell = CELL_MIN;
    for (let perRow = panels; perRow >= 1; perRow--) {
      const room = (width - PANEL_GAP * (perRow - 1)) / perRow - overhead - 1; // 1: rounding
      const fits = Math.floor(room / k - 1);
      if (fits >= CELL_MIN) { cell = Math.min(CELL_MAX, fits); break; }
    }
    if (cell !== current) this.el.style.setProperty("--cell", `${cell}px`);
  }

  focusCell(view: PanelView, t: number, p: number): void {
    this.entries.get(view.diff ? DIFF_KEY : view.run)?.hm.focusCell(t, p);
  }

  /** Mark the panels as waiting for data (or not). */
  setBusy(busy: boolean): void {
    if (busy) this.el.setAttribute("aria-busy", "true");
    else this.el.removeAttribute("aria-busy");
  }

  /** The panel kept under `key`, made on first use; its heatmap reports events for the view it shows. */
  private entry(key: string): PanelEntry {
    const known = this.entries.get(key);
    if (known) return known;
    const hm = new Heatmap({
      select: (t, p) => { if (entry.view) this.actions.selectCell(entry.view, t, p); },
      hover: (t, p, anchor, lines) => this.onHover(entry.view, t, p, anchor, lines),
    });
    const head = h("div", { class: "panel-head" });
    const filterNote = h("div", { class: "notice info", hidden: true }, "No class matches the class filter. Clear “Only” or the top-k box.");
    const entry: PanelEntry = { hm, view: null, head, filterNote, section: h("section", { class: "panel" }, head, hm.el, filterNote) };
    this.entries.set(key, entry);
    return entry;
  }

  /** What a dense panel's counts are, and its step's mean IoU (the metrics
   * route's, filled in when it arrives; the difference panel shows none). */
  private denseHead(head: HTMLElement, v: PanelView, unit: string | undefined): void {
    head.appendChild(h("span", { class: "step-note unit-note", "data-unit": countUnit(unit) }, `counts: ${countUnit(unit)}`));
    if (v.diff || !this.store) return;
    const iou = h("span", { class: "step-note mean-iou" });
    head.appendChild(iou);
    const metrics = this.store.metrics(v.run, v.tag, v.step);
    const fill = (text: string) => { iou.textContent = text; };
    if (metrics.value) fill(meanIouText(unit, metrics.value.mean_iou));
    else metrics.load().then((m) => fill(meanIouText(unit, m.mean_iou)), () => undefined);
  }

  private onHover(view: PanelView | null, t: number | null, p: number | null, anchor: Point | null, lines: string[]): void {
    const tip = this.tooltip;
    if (view === null || t === null || p === null || !anchor) {
      tip.hidden = true;
      return;
    }
    clear(tip);
    // which panel: the run (or the difference) first
    tip.appendChild(h("strong", { class: "tip-run" }, view.diff ? view.label : `Run: ${view.run}`));
    for (const line of lines) tip.append(h("br"), line);
    tip.hidden = false;
    const w = tip.offsetWidth, hgt = tip.offsetHeight;
    const x = Math.min(anchor.x + 4, window.innerWidth - w - 4);
    const y = anchor.y + hgt + 4 > window.innerHeight ? anchor.y - hgt - 30 : anchor.y + 4;
    tip.style.left = `${Math.max(0, x)}px`;
    tip.style.top = `${Math.max(0, y)}px`;
    // the cell's trend, once the pointer rests on it
    if (this.hoverTimer !== null) clearTimeout(this.hoverTimer);
    this.hoverTimer = window.setTimeout(() => this.hoverCell(view, { t, p }), HOVER_TREND_DELAY_MS);
  }

  private drawColourBar(domain: number, diff: boolean, byConfidence: boolean, diagonalOut: boolean, unit: Unit): void {
    const { norm, hideDiagonal } = this.state.settings;
    clear(this.colourBar);
    this.colourBar.dataset.colourBy = byConfidence ? "confidence" : "count";
    if (byConfidence) diff = false;
    const canvas = h("canvas", { width: COLOUR_BAR_WIDTH, height: 12, "aria-hidden": "true" });
    const ctx = canvas.getContext("2d");
    if (ctx) {
      const last = COLOUR_BAR_WIDTH - 1;
      for (let x = 0; x < COLOUR_BAR_WIDTH; x++) {
        ctx.fillStyle = cssColor(diff ? diverging((x / last) * 2 - 1) : sequential(x / last));
        ctx.fillRect(x, 0, 1, 12);
      }
    }
    const fmt = (v: number) => norm === "counts" ? formatCount(v) : formatShare(v);
    // a difference with no change at all has a range of 0, not "−0 … +0"
    const signed = diff && fmt(domain) !== fmt(0);
    const lo = byConfidence ? "0" : signed ? `−${fmt(domain)}` : fmt(0);
    const hi = byConfidence ? "1" : signed ? `+${fmt(domain)}` : fmt(domain);
    const what = byConfidence ? `mean confidence of the cell's predictions (grey: no predictions)${hideDiagonal ? ", diagonal hidden" : ""}`
      : diff ? `B − A in ${normUnitText(NORM_UNITS[norm], unit)} (blue: fewer in B, orange: more in B)` : `${normUnitText(NORM_UNITS[norm], unit)}${hideDiagonal ? ", diagonal hidden" : ""}`;
    const outOfScale = (diagonalOut && !byConfidence ? " Diagonal left out of the scale (large matrix: drawn at the end colour); each pixel shows the largest cell it covers." : "")
      + (this.state.settings.logColour && !byConfidence ? ` Log scale (${LOG_DECADES} decades below the top).` : "");
    const unavailable = this.state.settings.colourBy === "confidence" && !byConfidence && !diff && this.state.mode === "matrix"
      ? " (Mean confidence is not logged for every shown run.)" : "";
    this.colourBar.append(h("span", {}, lo), canvas, h("span", {}, hi), h("span", {}, `Colour: ${what}. Cells show ${norm === "counts" ? "counts" : "percentages"}.${outOfScale}${unavailable}`));
    if (!byConfidence) this.colourBar.append(this.logToggle());
  }

  /** "Log scale": colour the values on the log scale (remembered with the other settings). */
  private logToggle(): HTMLElement {
    const settings = this.state.settings;
    const box = h("input", { type: "checkbox", id: "tbc-log-colour" });
    box.checked = settings.logColour;
    box.addEventListener("change", () => {
      settings.logColour = box.checked;
      this.state.save();
      this.actions.redraw(); // rebuilds the colour bar: keep the keyboard on the new box
      document.getElementById("tbc-log-colour")?.focus();
    });
    return h("label", { title: `Spread small values over the colours: a log scale spanning ${LOG_DECADES} decades below the largest value` }, box, "Log scale");
  }
}

/** The cell of the picked example (Examples card) in `v`'s run at `v`'s step, once its history has loaded. */
function exampleCell(state: TabState, v: PanelView): [number, number] | null {
  const ex = state.example;
  return ex && ex.history && ex.run === v.run && ex.tag === v.tag ? exampleCellAt(ex.history, v.step) : null;
}

function selectedPair(cell: Cell | null): [number, number] | null {
  return cell ? [cell.t, cell.p] : null;
}
