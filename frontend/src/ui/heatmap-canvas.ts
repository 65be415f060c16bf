// The heatmap on a canvas, for many classes: one pixel per cell scaled up,
// zoom and pan, hover, a keyboard cursor and a live region describing its cell.
import { lut, prefersDarkText } from "../logic/colors";
import { formatCell, formatCount } from "../logic/format";
import { colSums, rowSums } from "../logic/matrix";
import { h } from "./dom";
import { cellColour, cellLines, suspectsIn, type HeatmapData, type HeatmapEvents } from "./heatmap-cells";

const MARGIN = 120;

export class CanvasHeatmap {
  readonly el = h("div", { class: "hm-canvas-wrap" });
  private canvas = h("canvas", { class: "hm-canvas", tabindex: 0, role: "application", "aria-roledescription": "confusion matrix" });
  private live = h("div", { class: "sr-only", "aria-live": "polite" });
  private offscreen = document.createElement("canvas");
  private data: HeatmapData | null = null;
  private rowTotals: Float64Array = new Float64Array(0);
  private colTotals: Float64Array = new Float64Array(0);
  private size = 600; // CSS px of the matrix area
  private zoom = 1;
  private ox = 0; // first visible cell (fractional), column
  private oy = 0; // row
  private cursor: [number, number] = [0, 0]; // shown positions
  private drag: { x: number; y: number; ox: number; oy: number; moved: boolean } | null = null;
  private seqLut = lut("seq");
  private divLut = lut("div");

  constructor(private events: HeatmapEvents) {
    const zoomIn = h("button", { type: "button", title: "Zoom in (+)" }, "+");
    const zoomOut = h("button", { type: "button", title: "Zoom out (−)" }, "−");
    const reset = h("button", { type: "button", title: "Show the whole matrix (0)" }, "Reset zoom");
    zoomIn.addEventListener("click", () => this.zoomAt(2, 0.5, 0.5));
    zoomOut.addEventListener("click", () => this.zoomAt(0.5, 0.5, 0.5));
    reset.addEventListener("click", () => { this.zoom = 1; this.ox = this.oy = 0; this.draw(); });
    this.el.append(h("div", { class: "hm-zoombar" }, zoomIn, zoomOut, reset,
      h("span", { class: "hint" }, "Wheel to zoom, drag to pan, arrows to move, Enter for examples")), this.canvas, this.live);
    this.canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      const { fx, fy } = this.frac(e);
      this.zoomAt(e.deltaY < 0 ? 1.25 : 0.8, fx, fy);
    }, { passive: false });
    this.canvas.addEventListener("mousedown", (e) => { this.drag = { x: e.clientX, y: e.clientY, ox: this.ox, oy: this.oy, moved: false }; });
    window.addEventListener("mouseup", () => { setTimeout(() => { this.drag = null; }, 0); });
    this.canvas.addEventListener("mousemove", (e) => this.onMove(e));
    this.canvas.addEventListener("mouseleave", () => this.events.hover(null, null, null, []));
    this.canvas.addEventListener("click", (e) => {
      if (this.drag && this.drag.moved) return;
      const hit = this.hit(e);
      if (hit) { this.cursor = hit; this.draw(); this.selectCursor(); }
    });
    this.canvas.addEventListener("keydown", (e) => this.onKey(e));
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

  private onMove(e: MouseEvent): void {
    if (this.drag && (e.buttons & 1)) {
      const dx = e.clientX - this.drag.x, dy = e.clientY - this.drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) this.drag.moved = true;
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
    this.events.hover(t, p, { x: e.clientX + 8, y: e.clientY + 8 }, cellLines(d, t, p, this.rowTotals, this.colTotals));
  }

  private selectCursor(): void {
    const d = this.data;
    if (d) this.events.select(d.shown[this.cursor[0]], d.shown[this.cursor[1]]);
  }

  private announce(): void {
    const d = this.data;
    if (!d || !this.k) return;
    const t = d.shown[this.cursor[0]], p = d.shown[this.cursor[1]];
    this.live.textContent = cellLines(d, t, p, this.rowTotals, this.colTotals).join(", ");
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
      case "0": this.zoom = 1; this.ox = this.oy = 0; this.draw(); e.preventDefault(); return;
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
        cellLines(d, t, p, this.rowTotals, this.colTotals));
    }
  }

  focusCell(t: number, p: number): void {
    const d = this.data;
    if (!d) return;
    const r = d.shown.indexOf(t), c = d.shown.indexOf(p);
    if (r < 0 || c < 0) return;
    this.cursor = [r, c];
    const visible = this.k / this.zoom;
    this.ox = c - visible / 2;
    this.oy = r - visible / 2;
    this.clampView();
    this.draw();
    this.canvas.focus();
  }

  update(d: HeatmapData): void {
    const sameShape = this.data && this.data.shown.length === d.shown.length;
    this.data = d;
    if (!sameShape) { this.zoom = 1; this.ox = this.oy = 0; this.cursor = [0, 0]; }
    this.rowTotals = rowSums(d.counts);
    this.colTotals = colSums(d.counts);
    this.canvas.setAttribute("aria-label", `${d.label}: confusion matrix of ${d.shown.length} classes drawn on a canvas. Arrow keys move a cursor between cells (announced below), plus and minus zoom, Enter shows examples.`);
    // One pixel per cell in an offscreen canvas, scaled up without smoothing.
    const k = d.shown.length, n = d.values.n;
    this.offscreen.width = Math.max(1, k);
    this.offscreen.height = Math.max(1, k);
    const octx = this.offscreen.getContext("2d");
    if (octx && k > 0) {
      const img = octx.createImageData(k, k);
      const px = img.data;
      // colour by the mean confidence (on [0, 1]), the difference (diverging) or the value
      const source = d.confidence ?? d.values;
      const divergent = d.diff && !d.confidence;
      const table = divergent ? this.divLut : this.seqLut;
      const dom = d.confidence ? 1 : d.domain > 0 ? d.domain : 1;
      const shown = d.shown;
      let o = 0;
      for (let r = 0; r < k; r++) {
        const base = shown[r] * n;
        for (let c = 0; c < k; c++, o += 4) {
          const v = source.data[base + shown[c]];
          if ((d.hideDiagonal && shown[r] === shown[c]) || v !== v) {
            px[o] = px[o + 1] = px[o + 2] = 128; px[o + 3] = 40;
            continue;
          }
          let idx = divergent ? Math.round(((v / dom + 1) / 2) * 255) : Math.round((v / dom) * 255);
          idx = idx < 0 ? 0 : idx > 255 ? 255 : idx;
          px[o] = table[idx * 3]; px[o + 1] = table[idx * 3 + 1]; px[o + 2] = table[idx * 3 + 2]; px[o + 3] = 255;
        }
      }
      octx.putImageData(img, 0, 0);
    }
    this.draw();
  }

  private draw(): void {
    const d = this.data;
    if (!d) return;
    // as large as the frame allows, without scrolling to see the whole matrix
    const width = Math.max(360, Math.min(1000, document.documentElement.clientWidth - 60, window.innerHeight - 40));
    this.size = width - MARGIN;
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
    if (k > 0) ctx.drawImage(this.offscreen, this.ox, this.oy, visible, visible, MARGIN, MARGIN, this.size, this.size);
    const r0 = Math.max(0, Math.floor(this.oy)), c0 = Math.max(0, Math.floor(this.ox));
    const r1 = Math.min(k, Math.ceil(this.oy + visible)), c1 = Math.min(k, Math.ceil(this.ox + visible));
    ctx.save();
    ctx.beginPath();
    ctx.rect(MARGIN, MARGIN, this.size, this.size);
    ctx.clip();
    const n = d.values.n;
    if (px >= 22) {
      ctx.font = `${Math.min(12, px / 3)}px system-ui, sans-serif`;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) {
        const t = d.shown[r], p = d.shown[c];
        if (d.hideDiagonal && t === p) continue;
        const v = d.values.data[t * n + p];
        const colour = cellColour(d, t, p, false);
        ctx.fillStyle = colour && prefersDarkText(colour) ? "#111" : "#fff";
        ctx.fillText(formatCell(v, d.norm, d.diff), MARGIN + (c - this.ox + 0.5) * px, MARGIN + (r - this.oy + 0.5) * px);
      }
    }
    if (d.suspects) this.drawSuspects(ctx, d, r0, r1, c0, c1);
    // cursor and selection
    const mark = (t: number, p: number, colour: string) => {
      const r = d.shown.indexOf(t), c = d.shown.indexOf(p);
      if (r < 0 || c < 0) return;
      ctx.strokeStyle = colour;
      ctx.lineWidth = 2;
      ctx.strokeRect(MARGIN + (c - this.ox) * px, MARGIN + (r - this.oy) * px, Math.max(px, 3), Math.max(px, 3));
    };
    if (d.selected) mark(d.selected[0], d.selected[1], "#e4007c");
    if (document.activeElement === this.canvas && k) mark(d.shown[this.cursor[0]], d.shown[this.cursor[1]], fg);
    ctx.restore();
    // axis labels
    ctx.fillStyle = fg;
    ctx.font = "11px system-ui, sans-serif";
    if (px >= 9) {
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      for (let r = r0; r < r1; r++) {
        ctx.fillText(truncate(d.names[d.shown[r]], 18), MARGIN - 4, MARGIN + (r - this.oy + 0.5) * px, MARGIN - 8);
      }
      ctx.save();
      ctx.textAlign = "left";
      for (let c = c0; c < c1; c++) {
        ctx.save();
        ctx.translate(MARGIN + (c - this.ox + 0.5) * px, MARGIN - 4);
        ctx.rotate(-Math.PI / 2);
        ctx.fillText(truncate(d.names[d.shown[c]], 18), 0, 0, MARGIN - 8);
        ctx.restore();
      }
      ctx.restore();
    } else {
      ctx.textAlign = "left";
      ctx.textBaseline = "alphabetic";
      ctx.fillText(`predicted → (classes ${c0 + 1}–${c1} of ${k})`, MARGIN, MARGIN - 8);
      ctx.save();
      ctx.translate(MARGIN - 8, MARGIN + this.size);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(`true → (classes ${r0 + 1}–${r1} of ${k})`, 0, 0);
      ctx.restore();
    }
  }
  /** The overlay: each cell's number of suspected label errors in its top right
   * corner once cells are large enough, a corner mark before that. */
  private drawSuspects(ctx: CanvasRenderingContext2D, d: HeatmapData, r0: number, r1: number, c0: number, c1: number): void {
    const px = this.cellPx;
    if (px < 4) return;
    ctx.fillStyle = getComputedStyle(this.el).getPropertyValue("--sel").trim() || "#e4007c";
    ctx.font = `bold ${Math.min(10, px / 3.5)}px system-ui, sans-serif`;
    ctx.textAlign = "right";
    ctx.textBaseline = "top";
    for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) {
      const count = suspectsIn(d, d.shown[r], d.shown[c]);
      if (!(count > 0)) continue;
      const right = MARGIN + (c + 1 - this.ox) * px, top = MARGIN + (r - this.oy) * px;
      if (px >= 22) {
        ctx.fillText(formatCount(count), right - 2, top + 1);
      } else {
        const s = Math.max(2, px / 3);
        ctx.beginPath();
        ctx.moveTo(right - s, top);
        ctx.lineTo(right, top);
        ctx.lineTo(right, top + s);
        ctx.fill();
      }
    }
  }
}

function truncate(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}
