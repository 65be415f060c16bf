// What the canvas heatmap writes over its image: each cell's value once cells
// are large enough, and the axis labels
// (class names, or the range of classes shown while names would not fit).
import { prefersDarkText } from "../logic/colors";
import { formatCell } from "../logic/format";
import { cellColour, type HeatmapData } from "./heatmap-cells";

/** Where the matrix is on the canvas: its top-left margin and side (CSS px), `k` shown classes,
 * the first visible cell (fractional) and the cell size, and the visible shown rows [r0, r1) and columns [c0, c1). */
export interface CanvasView { margin: number; size: number; k: number; ox: number; oy: number; px: number; r0: number; r1: number; c0: number; c1: number }

/** Each visible cell's value, once cells are at least 22 px wide. */
export function drawCellText(ctx: CanvasRenderingContext2D, d: HeatmapData, v: CanvasView): void {
  if (v.px < 22) return;
  const n = d.values.n, m = v.margin;
  ctx.font = `${Math.min(12, v.px / 3)}px system-ui, sans-serif`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (let r = v.r0; r < v.r1; r++) for (let c = v.c0; c < v.c1; c++) {
    const t = d.shown[r], p = d.shown[c];
    if (d.hideDiagonal && t === p) continue;
    const colour = cellColour(d, t, p, false);
    ctx.fillStyle = colour && prefersDarkText(colour) ? "#111" : "#fff";
    ctx.fillText(formatCell(d.values.data[t * n + p], d.norm, d.diff), m + (c - v.ox + 0.5) * v.px, m + (r - v.oy + 0.5) * v.px);
  }
}

/** Class names along both axes once rows are 9 px high; before that the range of classes in view. */
export function drawAxisLabels(ctx: CanvasRenderingContext2D, d: HeatmapData, v: CanvasView, fg: string): void {
  const m = v.margin, px = v.px;
  ctx.fillStyle = fg;
  ctx.font = "11px system-ui, sans-serif";
  if (px >= 9) {
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let r = v.r0; r < v.r1; r++) ctx.fillText(truncate(d.names[d.shown[r]], 18), m - 4, m + (r - v.oy + 0.5) * px, m - 8);
    ctx.save();
    ctx.textAlign = "left";
    for (let c = v.c0; c < v.c1; c++) {
      ctx.save();
      ctx.translate(m + (c - v.ox + 0.5) * px, m - 4);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(truncate(d.names[d.shown[c]], 18), 0, 0, m - 8);
      ctx.restore();
    }
    ctx.restore();
  } else {
    ctx.textAlign = "left";
    ctx.textBaseline = "alphabetic";
    ctx.fillText(`predicted → (classes ${v.c0 + 1}–${v.c1} of ${v.k})`, m, m - 8);
    ctx.save();
    ctx.translate(m - 8, m + v.size);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(`true → (classes ${v.r0 + 1}–${v.r1} of ${v.k})`, 0, 0);
    ctx.restore();
  }
}

function truncate(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}
