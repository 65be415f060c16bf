// The heatmap on a canvas, for many classes. It opens fitted to the panel's
// width; while cells are smaller than a pixel, each pixel shows the largest
// cell it covers (logic/pixels.ts), otherwise one image pixel per cell scaled
// up. Zoom: click or drag a rectangle on the overview, wheel, + and -; Fit
// (or 0, Escape) shows it all again; drag pans once cells are large enough to
// click. Hover, a keyboard cursor and a live region describe one cell.
import { lut } from "../logic/colors";
import { colSums, rowSums } from "../logic/matrix";
import { aggregateMax, clampWindow, colourPixels, packedLut } from "../logic/pixels";
import { h } from "./dom";
import { drawAxisLabels, drawCellText, type CanvasView } from "./heatmap-canvas-text";
import { cellLines, type HeatmapData, type HeatmapEvents } from "./heatmap-cells";

const MARGIN = 120;
/** Below this cell size (CSS px) a click zooms in instead of selecting, and a drag draws the rectangle to zoom to. */
const CLICK_ZOOM_PX = 8;
/** Shown classes across the view after a click on the overview, or after a focus from the top confusions. */
const CLICK_ZOOM_CELLS = 40;
const FOCUS_CELLS = 24;

export class CanvasHeatmap {
  readonly el = h("div", { class: "hm-canvas-wrap" });
  private canvas = h("canvas", { class: "hm-canvas", tabindex: 0, role: "application", "aria-roledescription": "confusion matrix" });
  private live = h("div", { class: "sr-only", "aria-live": "polite" });
  private offscreen = document.createElement("canvas");
  private data: HeatmapData | null = null;
  /** Row and column totals of the counts, for the tooltips: summed on the first hover after an update. */
  private totals: { row: Float64Array; col: Float64Array } = { row: new Float64Array(0), col: new Float64Array(0) };
  private totalsOf: HeatmapData | null = null;
  private size = 600; // CSS px of the matrix area
  private zoom = 1;
  private ox = 0; // first visible cell (fractional), column
  private oy = 0; // row
  private cursor: [number, number] = [0, 0]; // shown positions
  /** A press on the canvas: pans, or (`band`, on the overview) draws the rectangle to zoom to. */
  private drag: { x: number; y: number; ox: number; oy: number; moved: boolean; band: boolean; ex: number; ey: number } | null = null;
  /** The image of the shown window (one pixel per cell, or the cells' maxima per pixel) and what it was made from. */
  private image: { key: string; data: HeatmapData | null; span: number; px: number; r0: number; c0: number } = { key: "", data: null, span: 0, px: 0, r0: 0, c0: 0 };
  private remeasure = false;
  private measured = "";
  private seqLut = packedLut(lut("seq"));
  private divLut = packedLut(lut("div"));

  constructor(private events: HeatmapEvents) {
    const zoomIn = h("button", { type: "button", title: "Zoom in (+)" }, "+");
    const zoomOut = h("button", { type: "button", title: "Zoom out (−)" }, "−");
    const fit = h("button", { type: "button", class: "hm-fit", title: "Show the whole matrix (0 or Escape)" }, "Fit");
    zoomIn.addEventListener("click", () => this.zoomAt(2, 0.5, 0.5));
    zoomOut.addEventListener("click", () => this.zoomAt(0.5, 0.5, 0.5));
    fit.addEventListener("click", () => this.fit());
    this.el.append(h("div", { class: "hm-zoombar" }, zoomIn, zoomOut, fit,
      h("span", { class: "hint" }, "Click or drag a rectangle to zoom in, wheel to zoom, Escape to fit; once cells are large, drag to pan and click for examples")), this.canvas, this.live);
    this.canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      const { fx, fy } = this.frac(e);
      this.zoomAt(e.deltaY < 0 ? 1.25 : 0.8, fx, fy);
    }, { passive: false });
    this.canvas.addEventListener("mousedown", (e) => {
      this.drag = { x: e.clientX, y: e.clientY, ox: this.ox, oy: this.oy, moved: false, band: this.cellPx < CLICK_ZOOM_PX, ex: e.clientX, ey: e.clientY };
    });
    window.addEventListener("mouseup", () => {
      const drag = this.drag;
      if (drag && drag.band && drag.moved) this.zoomToBand(drag);
      setTimeout(() => { this.drag = null; }, 0);
    });
    window.addEventListener("resize", () => { if (this.data && this.el.isConnected) this.draw(); });
    this.canvas.addEventListener("mousemove", (e) => this.onMove(e));
    this.canvas.addEventListener("mouseleave", () => this.events.hover(null, null, null, []));
    this.canvas.addEventListener("click", (e) => {
      if (this.drag && this.drag.moved) return;
      const hit = this.hit(e);
      if (!hit) return;
      this.cursor = hit;
      if (this.cellPx < CLICK_ZOOM_PX) this.showAround(hit[0], hit[1], CLICK_ZOOM_CELLS);
      else { this.draw(); this.selectCursor(); }
    });
    this.canvas.addEventListener("keydown", (e) => this.onKey(e));
    this.el.addEventListener("keydown", (e) => { if (e.key === "Escape" && this.zoom > 1) { e.preventDefault(); this.fit(); } });
    this.canvas.addEventListener("focus", () => this.announce());
  }

  private get k(): number { return this.data ? this.data.shown.length : 0; }
  private get cellPx(): number { return this.k ? (this.size * this.zoom) / this.k : 1; }

  private frac(e: MouseEvent): { fx: number; fy: number } {
    const box = this.canvas.getBoundingClientRect();
    return { fx: (e.clientX - box.left - MARGIN) / this.size, fy: (e.clientY - box.top - MARGIN) / this.size };
  }

  private hit(e: MouseEvent): [number, number] | null {
    const { fx, fy } = this.frac(e);
    if (fx < 0 || fy < 0 || fx >= 1 || fy >= 1) return null;
    const visible = this.k / this.zoom;
    const c = Math.floor(this.ox + fx * visible), r = Math.floor(this.oy + fy * visible);
    return r >= 0 && c >= 0 && r < this.k && c < this.k ? [r, c] : null;
  }

  private clampView(): void {
    this.zoom = Math.max(1, Math.min(this.zoom, Math.max(1, this.k / 4)));
    const visible = this.k / this.zoom;
    this.ox = Math.max(0, Math.min(this.ox, this.k - visible));
    this.oy = Math.max(0, Math.min(this.oy, this.k - visible));
  }

  private zoomAt(factor: number, fx: number, fy: number): void {
    const before = this.k / this.zoom;
    const cx = this.ox + fx * before, cy = this.oy + fy * before;
    this.zoom *= factor;
    this.clampView();
    const after = this.k / this.zoom;
    this.ox = cx - fx * after;
    this.oy = cy - fy * after;
    this.clampView();
    this.draw();
  }

  /** Show the whole matrix. */
  private fit(): void {
    this.zoom = 1;
    this.ox = this.oy = 0;
    this.draw();
  }

  /** Zoom so that about `cells` classes are visible, centred on shown position (r, c). */
  private showAround(r: number, c: number, cells: number): void {
    this.zoom = this.k / Math.min(this.k, cells);
    this.clampView();
    const visible = this.k / this.zoom;
    this.ox = c + 0.5 - visible / 2;
    this.oy = r + 0.5 - visible / 2;
    this.clampView();
    this.draw();
  }

  /** Zoom to the rectangle dragged on the overview (a square around it: rows and columns zoom alike). */
  private zoomToBand(drag: { x: number; y: number; ex: number; ey: number }): void {
    const box = this.canvas.getBoundingClientRect();
    const visible = this.k / this.zoom;
    const at = (x: number, y: number) => [this.ox + ((x - box.left - MARGIN) / this.size) * visible, this.oy + ((y - box.top - MARGIN) / this.size) * visible];
    const [ca, ra] = at(drag.x, drag.y), [cb, rb] = at(drag.ex, drag.ey);
    const span = Math.max(4, Math.abs(cb - ca), Math.abs(rb - ra));
    this.zoom = this.k / Math.min(this.k, span);
    this.clampView();
    const shown = this.k / this.zoom;
    this.ox = (ca + cb) / 2 - shown / 2;
    this.oy = (ra + rb) / 2 - shown / 2;
    this.clampView();
    this.draw();
  }

  private onMove(e: MouseEvent): void {
    if (this.drag && (e.buttons & 1)) {
      const dx = e.clientX - this.drag.x, dy = e.clientY - this.drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) this.drag.moved = true;
      if (this.drag.moved && this.drag.band) {
        this.drag.ex = e.clientX;
        this.drag.ey = e.clientY;
        this.draw();
        return;
      }
      if (this.drag.moved) {
        this.ox = this.drag.ox - dx / this.cellPx;
        this.oy = this.drag.oy - dy / this.cellPx;
        this.clampView();
        this.draw();
        return;
      }
    }
    const hit = this.hit(e);
    const d = this.data;
    if (!hit || !d) { this.events.hover(null, null, null, []); return; }
    const t = d.shown[hit[0]], p = d.shown[hit[1]];
    this.events.hover(t, p, { x: e.clientX + 8, y: e.clientY + 8 }, this.lines(d, t, p));
  }

  /** The tooltip lines of cell (t, p). */
  private lines(d: HeatmapData, t: number, p: number): string[] {
    if (this.totalsOf !== d) {
      this.totals = { row: rowSums(d.counts), col: colSums(d.counts) };
      this.totalsOf = d;
    }
    return cellLines(d, t, p, this.totals.row, this.totals.col);
  }

  private selectCursor(): void {
    const d = this.data;
    if (d) this.events.select(d.shown[this.cursor[0]], d.shown[this.cursor[1]]);
  }

  private announce(): void {
    const d = this.data;
    if (!d || !this.k) return;
    const t = d.shown[this.cursor[0]], p = d.shown[this.cursor[1]];
    this.live.textContent = this.lines(d, t, p).join(", ");
  }

  private onKey(e: KeyboardEvent): void {
    let [r, c] = this.cursor;
    const k = this.k;
    const page = Math.max(1, Math.floor(k / this.zoom / 2));
    switch (e.key) {
      case "ArrowUp": r--; break;
      case "ArrowDown": r++; break;
      case "ArrowLeft": c--; break;
      case "ArrowRight": c++; break;
      case "PageUp": r -= page; break;
      case "PageDown": r += page; break;
      case "Home": c = 0; break;
      case "End": c = k - 1; break;
      case "+": case "=": this.zoomAt(2, (c - this.ox + 0.5) / (k / this.zoom), (r - this.oy + 0.5) / (k / this.zoom)); e.preventDefault(); return;
      case "-": this.zoomAt(0.5, 0.5, 0.5); e.preventDefault(); return;
      case "0": this.fit(); e.preventDefault(); return;
      case "Enter": case " ": e.preventDefault(); this.selectCursor(); return;
      default: return;
    }
    e.preventDefault();
    this.cursor = [Math.max(0, Math.min(k - 1, r)), Math.max(0, Math.min(k - 1, c))];
    // keep the cursor visible
    const visible = k / this.zoom;
    if (this.cursor[1] < this.ox) this.ox = this.cursor[1];
    if (this.cursor[1] + 1 > this.ox + visible) this.ox = this.cursor[1] + 1 - visible;
    if (this.cursor[0] < this.oy) this.oy = this.cursor[0];
    if (this.cursor[0] + 1 > this.oy + visible) this.oy = this.cursor[0] + 1 - visible;
    this.clampView();
    this.draw();
    this.announce();
    const d = this.data;
    if (d) {
      const box = this.canvas.getBoundingClientRect();
      const px = this.cellPx;
      const t = d.shown[this.cursor[0]], p = d.shown[this.cursor[1]];
      this.events.hover(t, p, { x: box.left + MARGIN + (this.cursor[1] + 1 - this.ox) * px, y: box.top + MARGIN + (this.cursor[0] + 1 - this.oy) * px },
        this.lines(d, t, p));
    }
  }

  focusCell(t: number, p: number): void {
    const d = this.data;
    if (!d) return;
    const r = d.shown.indexOf(t), c = d.shown.indexOf(p);
    if (r < 0 || c < 0) return;
    this.cursor = [r, c];
    // zoomed in far enough to read the cell, centred on it
    this.showAround(r, c, this.cellPx < 16 ? FOCUS_CELLS : this.k / this.zoom);
    this.canvas.focus();
    this.announce();
  }

  update(d: HeatmapData): void {
    const sameShape = this.data && this.data.shown.length === d.shown.length;
    this.data = d;
    if (!sameShape) { this.zoom = 1; this.ox = this.oy = 0; this.cursor = [0, 0]; }
    this.totalsOf = null;
    this.canvas.setAttribute("aria-label", `${d.label}: confusion matrix of ${d.shown.length} classes drawn on a canvas. Arrow keys move a cursor between cells (announced below), plus and minus zoom, Escape fits the whole matrix, Enter shows examples.`);
    this.draw();
  }

  /** The matrix area's side in CSS px: the panels' width (or the page's), no taller than the window.
   * Measured again only when the window changed size (a slider step does not force a layout). */
  private measure(): number {
    const key = `${window.innerWidth}x${window.innerHeight}`;
    if (this.measured === key && this.size > 0) return this.size;
    const panels = this.el.closest(".panels");
    const room = panels ? panels.clientWidth : 0;
    this.measured = room > 0 ? key : ""; // not laid out (hidden): measure again next time
    const width = room > 0 ? room - 24 : document.documentElement.clientWidth - 60;
    return Math.max(360, Math.min(width, window.innerHeight - 40)) - MARGIN;
  }

  /** Make the image of the visible window unless the one kept is it: `px` pixels a side, at most one per cell. */
  private paintImage(d: HeatmapData, devicePx: number): void {
    const k = this.k, visible = k / this.zoom;
    const cellsPerPixel = visible > devicePx;
    // one pixel per cell: the cells under the view plus one for a fractional offset; else exactly the view
    const win = cellsPerPixel
      ? clampWindow(k, Math.round(this.oy), Math.round(this.ox), visible, devicePx)
      : clampWindow(k, this.oy, this.ox, Math.ceil(visible) + 1, k);
    const key = `${win.r0},${win.c0},${win.span},${win.px}`;
    if (this.image.data === d && this.image.key === key) return;
    const source = d.confidence ?? d.values;
    const cells = aggregateMax(source, d.shown, win, d.hideDiagonal);
    const side = win.px;
    this.offscreen.width = side;
    this.offscreen.height = side;
    const octx = this.offscreen.getContext("2d");
    if (!octx) return;
    const img = octx.createImageData(side, side);
    // colour by the mean confidence (on [0, 1]), the difference (diverging) or the value
    const divergent = d.diff && !d.confidence;
    const dom = d.confidence ? 1 : d.domain > 0 ? d.domain : 1;
    colourPixels(cells, new Uint32Array(img.data.buffer), divergent ? this.divLut : this.seqLut, dom, divergent, d.log && !d.confidence);
    octx.putImageData(img, 0, 0);
    this.image = { key, data: d, span: win.span, px: side, r0: win.r0, c0: win.c0 };
    this.el.dataset.pixels = cellsPerPixel ? "max-of-cells" : "cell";
  }

  private draw(): void {
    const d = this.data;
    if (!d) return;
    // fitted to the panel: drawn once it is on the page (the panels are put in place right after their update,
    // and this frame callback runs before the one that marks the draw as painted)
    if (!this.el.isConnected) {
      if (!this.remeasure) {
        this.remeasure = true;
        requestAnimationFrame(() => { this.remeasure = false; if (this.el.isConnected) this.draw(); });
      }
      return;
    }
    this.size = this.measure();
    const dpr = window.devicePixelRatio || 1;
    const total = MARGIN + this.size;
    if (this.canvas.width !== Math.round(total * dpr)) {
      this.canvas.width = Math.round(total * dpr);
      this.canvas.height = Math.round(total * dpr);
      this.canvas.style.width = `${total}px`;
      this.canvas.style.height = `${total}px`;
    }
    const ctx = this.canvas.getContext("2d");
    if (!ctx) return;
    const style = getComputedStyle(this.el);
    const fg = style.getPropertyValue("--fg").trim() || "#222";
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, total, total);
    const k = this.k;
    const visible = k / this.zoom;
    const px = this.cellPx;
    ctx.imageSmoothingEnabled = false;
    if (k > 0) {
      this.paintImage(d, Math.round(this.size * dpr));
      const im = this.image;
      if (im.px < im.span) ctx.drawImage(this.offscreen, 0, 0, im.px, im.px, MARGIN, MARGIN, this.size, this.size);
      else ctx.drawImage(this.offscreen, this.ox - im.c0, this.oy - im.r0, visible, visible, MARGIN, MARGIN, this.size, this.size);
    }
    this.canvas.dataset.view = JSON.stringify({ zoom: +this.zoom.toFixed(3), row: +this.oy.toFixed(2), col: +this.ox.toFixed(2), visible: +visible.toFixed(2) });
    const r0 = Math.max(0, Math.floor(this.oy)), c0 = Math.max(0, Math.floor(this.ox));
    const r1 = Math.min(k, Math.ceil(this.oy + visible)), c1 = Math.min(k, Math.ceil(this.ox + visible));
    ctx.save();
    ctx.beginPath();
    ctx.rect(MARGIN, MARGIN, this.size, this.size);
    ctx.clip();
    const view: CanvasView = { margin: MARGIN, size: this.size, k, ox: this.ox, oy: this.oy, px, r0, r1, c0, c1 };
    drawCellText(ctx, d, view);
    // cursor and selection
    const mark = (t: number, p: number, colour: string) => {
      const r = d.shown.indexOf(t), c = d.shown.indexOf(p);
      if (r < 0 || c < 0) return;
      ctx.strokeStyle = colour;
      ctx.lineWidth = 2;
      ctx.strokeRect(MARGIN + (c - this.ox) * px, MARGIN + (r - this.oy) * px, Math.max(px, 3), Math.max(px, 3));
    };
    if (d.selected) mark(d.selected[0], d.selected[1], "#e4007c");
    // the picked example's cell (Examples card): a dashed outline, its position in data-example-cell
    if (d.marked) { ctx.setLineDash([3, 2]); mark(d.marked[0], d.marked[1], "#0072B2"); ctx.setLineDash([]); }
    this.canvas.dataset.exampleCell = d.marked ? `${d.marked[0]},${d.marked[1]}` : "";
    if (document.activeElement === this.canvas && k) mark(d.shown[this.cursor[0]], d.shown[this.cursor[1]], fg);
    const drag = this.drag;
    if (drag && drag.band && drag.moved) {
      const box = this.canvas.getBoundingClientRect();
      ctx.strokeStyle = fg;
      ctx.setLineDash([4, 3]);
      ctx.lineWidth = 1;
      ctx.strokeRect(Math.min(drag.x, drag.ex) - box.left, Math.min(drag.y, drag.ey) - box.top, Math.abs(drag.ex - drag.x), Math.abs(drag.ey - drag.y));
      ctx.setLineDash([]);
    }
    ctx.restore();
    drawAxisLabels(ctx, d, view, fg);
  }
}
