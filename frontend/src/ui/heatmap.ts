// Heatmap of one matrix. Up to GRID_LIMIT shown classes it is an ARIA grid of
// DOM cells (heatmap-grid.ts); above that a zoomable canvas (heatmap-canvas.ts).
import { clear, h } from "./dom";
import { CanvasHeatmap } from "./heatmap-canvas";
import type { HeatmapData, HeatmapEvents } from "./heatmap-cells";
import { GridHeatmap } from "./heatmap-grid";

const GRID_LIMIT = 40;

/** Whether the diagonal is left out of the colour domain of a view of `shownCount` classes (a large matrix,
 * drawn on the canvas): its correct predictions would otherwise flatten every error to the darkest colour. */
export function diagonalOutOfDomain(shownCount: number): boolean {
  return shownCount > GRID_LIMIT;
}

export class Heatmap {
  readonly el = h("div", { class: "heatmap" });
  private impl: GridHeatmap | CanvasHeatmap | null = null;
  constructor(private events: HeatmapEvents) {}

  update(d: HeatmapData): void {
    const wantGrid = d.shown.length <= GRID_LIMIT;
    if (!this.impl || (this.impl instanceof GridHeatmap) !== wantGrid) {
      clear(this.el);
      this.impl = wantGrid ? new GridHeatmap(this.events) : new CanvasHeatmap(this.events);
      this.el.appendChild(this.impl.el);
    }
    this.impl.update(d);
  }

  focusCell(t: number, p: number): void {
    this.impl?.focusCell(t, p);
  }
}
