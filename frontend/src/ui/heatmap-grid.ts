// The heatmap as an ARIA grid of DOM cells: the count in each cell, a roving
// tabindex for the arrow keys, data-* attributes with the exact values.
import { cssColor, prefersDarkText } from "../logic/colors";
import { formatCell } from "../logic/format";
import { colSums, rowSums } from "../logic/matrix";
import { clear, h } from "./dom";
import { cellColour, cellLines, type HeatmapData, type HeatmapEvents } from "./heatmap-cells";

export class GridHeatmap {
  readonly el = h("div", { class: "hm-grid", role: "grid" });
  private cells: HTMLElement[][] = [];
  private shownKey = "";
  private data: HeatmapData | null = null;
  private rowTotals: Float64Array = new Float64Array(0);
  private colTotals: Float64Array = new Float64Array(0);
  private focus: [number, number] = [0, 0]; // positions in shown

  constructor(private events: HeatmapEvents) {
    this.el.addEventListener("keydown", (e) => this.onKey(e));
    this.el.addEventListener("click", (e) => {
      const cell = (e.target as HTMLElement).closest<HTMLElement>("[data-r]");
      if (!cell) return;
      const r = Number(cell.dataset.r), c = Number(cell.dataset.c);
      this.moveFocus(r, c, false);
      this.select(r, c);
    });
    this.el.addEventListener("mouseover", (e) => {
      const cell = (e.target as HTMLElement).closest<HTMLElement>("[data-r]");
      if (cell) this.hover(Number(cell.dataset.r), Number(cell.dataset.c), cell);
    });
    this.el.addEventListener("mouseleave", () => this.events.hover(null, null, null, []));
    this.el.addEventListener("focusin", (e) => {
      const cell = (e.target as HTMLElement).closest<HTMLElement>("[data-r]");
      if (cell) this.hover(Number(cell.dataset.r), Number(cell.dataset.c), cell);
    });
    this.el.addEventListener("focusout", () => this.events.hover(null, null, null, []));
  }

  private hover(r: number, c: number, cell: HTMLElement): void {
    const d = this.data;
    if (!d) return;
    const t = d.shown[r], p = d.shown[c];
    const box = cell.getBoundingClientRect();
    this.events.hover(t, p, { x: box.right, y: box.bottom }, cellLines(d, t, p, this.rowTotals, this.colTotals));
  }

  private select(r: number, c: number): void {
    const d = this.data;
    if (d) this.events.select(d.shown[r], d.shown[c]);
  }

  private build(d: HeatmapData): void {
    clear(this.el);
    this.cells = [];
    const k = d.shown.length;
    this.el.style.setProperty("--k", String(k));
    const head = h("div", { role: "row", class: "hm-row" }, h("div", { class: "hm-corner", role: "columnheader" },
      h("span", { class: "hm-axis-pred" }, "predicted →"), h("span", { class: "hm-axis-true" }, "true ↓")));
    for (const p of d.shown) {
      head.appendChild(h("div", { role: "columnheader", class: "hm-colhead", title: d.names[p] }, h("span", {}, d.names[p])));
    }
    this.el.appendChild(head);
    d.shown.forEach((t, r) => {
      const row = h("div", { role: "row", class: "hm-row" }, h("div", { role: "rowheader", class: "hm-rowhead", title: d.names[t] }, d.names[t]));
      const cells: HTMLElement[] = [];
      d.shown.forEach((p, c) => {
        const cell = h("div", { role: "gridcell", class: "hm-cell", tabindex: -1, "data-r": r, "data-c": c, "data-true": d.names[t], "data-pred": d.names[p], "data-true-index": t, "data-pred-index": p });
        cells.push(cell);
        row.appendChild(cell);
      });
      this.cells.push(cells);
      this.el.appendChild(row);
    });
    this.focus = [0, 0];
    if (k > 0) this.cells[0][0].tabIndex = 0;
  }

  update(d: HeatmapData): void {
    const key = d.shown.join(",") + "|" + d.shown.map((i) => d.names[i]).join("\u0000");
    if (key !== this.shownKey) {
      this.build(d);
      this.shownKey = key;
    }
    this.data = d;
    this.rowTotals = rowSums(d.counts);
    this.colTotals = colSums(d.counts);
    this.el.setAttribute("aria-label", `${d.label}: confusion matrix, ${d.shown.length} classes, rows true class, columns predicted class. Arrow keys move between cells, Enter shows examples.`);
    this.el.classList.toggle("hm-diff", d.diff);
    const n = d.values.n;
    const sel = d.selected;
    d.shown.forEach((t, r) => {
      d.shown.forEach((p, c) => {
        const cell = this.cells[r][c];
        const v = d.values.data[t * n + p];
        const count = d.counts.data[t * n + p];
        const hidden = d.hideDiagonal && t === p;
        const colour = cellColour(d, t, p, hidden);
        const text = hidden ? "" : formatCell(v, d.norm, d.diff);
        if (cell.textContent !== text) cell.textContent = text;
        cell.style.backgroundColor = colour ? cssColor(colour) : "";
        cell.style.color = colour ? (prefersDarkText(colour) ? "#111" : "#fff") : "";
        cell.dataset.value = Number.isFinite(v) ? String(v) : "NaN";
        cell.dataset.count = String(count);
        setData(cell, "confidence", d.confidence ? d.confidence.data[t * n + p] : null);
        cell.classList.toggle("hm-hidden", hidden);
        cell.classList.toggle("hm-selected", !!sel && sel[0] === t && sel[1] === p);
        cell.classList.toggle("hm-example", !!d.marked && d.marked[0] === t && d.marked[1] === p);
        const lines = cellLines(d, t, p, this.rowTotals, this.colTotals);
        cell.setAttribute("aria-label", lines.join(", ") + (hidden ? " (diagonal hidden)" : ""));
        cell.setAttribute("aria-selected", sel && sel[0] === t && sel[1] === p ? "true" : "false");
      });
    });
  }

  private moveFocus(r: number, c: number, focus = true): void {
    const k = this.cells.length;
    if (k === 0) return;
    r = Math.max(0, Math.min(k - 1, r));
    c = Math.max(0, Math.min(k - 1, c));
    const [or, oc] = this.focus;
    if (this.cells[or] && this.cells[or][oc]) this.cells[or][oc].tabIndex = -1;
    this.focus = [r, c];
    this.cells[r][c].tabIndex = 0;
    if (focus) this.cells[r][c].focus();
  }

  focusCell(t: number, p: number): void {
    const d = this.data;
    if (!d) return;
    const r = d.shown.indexOf(t), c = d.shown.indexOf(p);
    if (r >= 0 && c >= 0) this.moveFocus(r, c, true);
  }

  private onKey(e: KeyboardEvent): void {
    const [r, c] = this.focus;
    const k = this.cells.length;
    const moves: Record<string, [number, number]> = {
      ArrowUp: [r - 1, c], ArrowDown: [r + 1, c], ArrowLeft: [r, c - 1], ArrowRight: [r, c + 1],
      Home: e.ctrlKey ? [0, 0] : [r, 0], End: e.ctrlKey ? [k - 1, k - 1] : [r, k - 1],
      PageUp: [0, c], PageDown: [k - 1, c],
    };
    if (e.key in moves) {
      e.preventDefault();
      this.moveFocus(moves[e.key][0], moves[e.key][1]);
    } else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      this.select(r, c);
    }
  }
}

/** Set data-`key` to `value` ("NaN" for a non-finite number), or remove it for null. */
function setData(el: HTMLElement, key: string, value: number | null): void {
  if (value === null) delete el.dataset[key];
  else el.dataset[key] = Number.isFinite(value) ? String(value) : "NaN";
}
