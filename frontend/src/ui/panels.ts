// The matrix panels (one heatmap per run, or the difference), the colour bar
// they share, and the tooltip of the hovered cell.
import { cssColor, diverging, sequential } from "../logic/colors";
import { formatCount, NORM_UNITS } from "../logic/format";
import { colourDomain } from "../logic/matrix";
import { clear, h } from "./dom";
import { Heatmap } from "./heatmap";
import type { Point } from "./heatmap-cells";
import type { Actions, Cell, PanelView, TabState } from "./state";

const HOVER_TREND_DELAY_MS = 250;
const COLOUR_BAR_WIDTH = 200;
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
  constructor(private state: TabState, private actions: Actions, private hoverCell: (view: PanelView, cell: Cell) => void) {
    window.addEventListener("scroll", () => { this.tooltip.hidden = true; }, { passive: true });
  }

  /** Draw `views`, one section each, on one colour scale. `why`: what to say when there is none. */
  draw(views: PanelView[], why: string | null): void {
    const { settings, targetStep: target } = this.state;
    // domain shared by all panels so colours compare across runs
    let domain = 0;
    for (const v of views) domain = Math.max(domain, colourDomain(v.values, v.shown, settings.hideDiagonal));
    const byConfidence = views.length > 0 && views.every((v) => v.confidence !== null);
    this.drawColourBar(domain, views.some((v) => v.diff), byConfidence);

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
      if (!v.diff && this.state.runs.length > 1) {
        const b = h("button", { type: "button", class: "details-btn", "aria-pressed": String(isActive) }, isActive ? "Details shown below" : "Show details");
        b.addEventListener("click", () => { this.state.activeRun = v.run; this.actions.redraw(); });
        entry.head.appendChild(b);
      }
      entry.hm.update({
        names: v.names, shown: v.shown, counts: v.counts, countsA: v.countsA, values: v.values, norm: settings.norm,
        confidence: byConfidence ? v.confidence : null, suspects: v.suspects,
        diff: v.diff, hideDiagonal: settings.hideDiagonal, domain, label: v.diff ? v.label : `Run ${v.run}`,
        selected: selectedPair(this.state.selectedCellOf(v)),
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

  private onHover(view: PanelView | null, t: number | null, p: number | null, anchor: Point | null, lines: string[]): void {
    const tip = this.tooltip;
    if (view === null || t === null || p === null || !anchor) {
      tip.hidden = true;
      return;
    }
    clear(tip);
    lines.forEach((line, i) => { if (i) tip.appendChild(h("br")); tip.appendChild(document.createTextNode(line)); });
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

  private drawColourBar(domain: number, diff: boolean, byConfidence: boolean): void {
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
    const fmt = (v: number) => norm === "counts" ? formatCount(v) : `${(v * 100).toFixed(1)}%`;
    const lo = byConfidence ? "0" : diff ? `−${fmt(domain)}` : fmt(0);
    const hi = byConfidence ? "1" : diff ? `+${fmt(domain)}` : fmt(domain);
    const what = byConfidence ? `mean confidence of the cell's predictions (grey: no predictions)${hideDiagonal ? ", diagonal hidden" : ""}`
      : diff ? `B − A in ${NORM_UNITS[norm]} (blue: fewer in B, orange: more in B)` : `${NORM_UNITS[norm]}${hideDiagonal ? ", diagonal hidden" : ""}`;
    const unavailable = this.state.settings.colourBy === "confidence" && !byConfidence && !diff && this.state.mode === "matrix"
      ? " (Mean confidence is not logged for every shown run.)" : "";
    this.colourBar.append(h("span", {}, lo), canvas, h("span", {}, hi), h("span", {}, `Colour: ${what}. Cells show ${norm === "counts" ? "counts" : "percentages"}.${unavailable}`));
  }
}

function selectedPair(cell: Cell | null): [number, number] | null {
  return cell ? [cell.t, cell.p] : null;
}
