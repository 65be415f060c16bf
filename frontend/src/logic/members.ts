// Pure helpers of the per-example record's views (issue 19): paging, where a
// thumbnail tile lies on its page, an example's cell at a step, and the data
// map's selections (a region, a dragged rectangle, the point under the pointer).

/** Examples per page of the members grid, the moved lists and the data map's list. */
export const PAGE_SIZE = 48;

/** "1-48 of 1,234": the examples a page shows (offset from 0, `shown` of them) out of `total`. */
export function pageLabel(offset: number, shown: number, total: number): string {
  const fmt = (n: number) => n.toLocaleString("en-US");
  if (total <= 0 || shown <= 0) return `0 of ${fmt(Math.max(0, total))}`;
  return `${fmt(offset + 1)}-${fmt(offset + shown)} of ${fmt(total)}`;
}

/** How many pages of `size` hold `total` examples (at least 1). */
export function pageCount(total: number, size = PAGE_SIZE): number {
  return Math.max(1, Math.ceil(total / size));
}

/** The page buttons to show around `current` (from 0) of `count` pages: the first, the last and two
 * either side of the current one; null marks a gap. */
export function pageButtons(current: number, count: number): (number | null)[] {
  const keep = new Set<number>([0, count - 1]);
  for (let p = current - 2; p <= current + 2; p++) if (p >= 0 && p < count) keep.add(p);
  const pages = Array.from(keep).sort((a, b) => a - b);
  const out: (number | null)[] = [];
  pages.forEach((p, i) => {
    if (i > 0 && p - pages[i - 1] > 1) out.push(null);
    out.push(p);
  });
  return out;
}

/** The page geometry of the record's thumbnails (example_thumbnails_layout). */
export interface TileGeometry { tile_width: number; tile_height: number; columns: number; tiles_per_page: number }

/** Where tile `tile` is: its page (from 0) and the pixel offset of its top-left corner on that page. */
export function tilePlace(tile: number, g: TileGeometry): { page: number; x: number; y: number } {
  const within = tile % g.tiles_per_page;
  return {
    page: Math.floor(tile / g.tiles_per_page),
    x: (within % g.columns) * g.tile_width,
    y: Math.floor(within / g.columns) * g.tile_height,
  };
}

/** What an example history needs here. */
export interface HistoryLike { label: number; steps: number[]; predicted: (number | null)[] }

/** The example's cell [given label, predicted] at `step`; null when it was not evaluated there or was left out. */
export function exampleCellAt(history: HistoryLike, step: number): [number, number] | null {
  const i = history.steps.indexOf(step);
  const p = i < 0 ? null : history.predicted[i];
  return p === null || p === undefined ? null : [history.label, p];
}

/** Whether the example was right at each step (null: not evaluated there). */
export function correctness(history: HistoryLike): (boolean | null)[] {
  return history.predicted.map((p) => (p === null ? null : p === history.label));
}

/** A rectangle of the data map in its coordinates (x: variability, y: confidence). */
export interface Rect { x0: number; x1: number; y0: number; y1: number }

/** The rectangle spanned by two corners, in any order. */
export function spanRect(ax: number, ay: number, bx: number, by: number): Rect {
  return { x0: Math.min(ax, bx), x1: Math.max(ax, bx), y0: Math.min(ay, by), y1: Math.max(ay, by) };
}

/** The positions of the points inside `r` (edges included); points with a missing coordinate are never inside. */
export function pointsInRect(xs: (number | null)[], ys: (number | null)[], r: Rect): number[] {
  const out: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i], y = ys[i];
    if (x !== null && y !== null && x >= r.x0 && x <= r.x1 && y >= r.y0 && y <= r.y1) out.push(i);
  }
  return out;
}

/** The positions of the points of region `region`. */
export function regionMembers(regions: number[], region: number): number[] {
  const out: number[] = [];
  regions.forEach((r, i) => { if (r === region) out.push(i); });
  return out;
}

/** How many points each of `count` regions has. */
export function regionCounts(regions: number[], count: number): number[] {
  const out = new Array<number>(count).fill(0);
  for (const r of regions) if (r >= 0 && r < count) out[r]++;
  return out;
}

/** The point nearest to (px, py) in screen pixels (`sx`, `sy` map data to pixels) within `radius`, or -1. */
export function nearestPoint(xs: (number | null)[], ys: (number | null)[], sx: (x: number) => number, sy: (y: number) => number,
  px: number, py: number, radius: number): number {
  let best = -1, bestD = radius * radius;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i], y = ys[i];
    if (x === null || y === null) continue;
    const dx = sx(x) - px, dy = sy(y) - py, d = dx * dx + dy * dy;
    if (d <= bestD) { bestD = d; best = i; }
  }
  return best;
}
