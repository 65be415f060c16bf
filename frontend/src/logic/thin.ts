// Thinning a long series to what its chart can show: a line of 5,000 steps
// drawn 80 pixels wide needs no more than a couple of points per pixel
// column. Each column keeps its lowest and its highest point (in step order),
// so every spike and dip of the full series still shows: the thinned line
// covers, in every column, exactly the range the full line covers there.

export interface Point { x: number; y: number }

/**
 * The points (`xs[i]`, `ys[i]`) to draw, at most 2 per pixel column: per
 * column (`Math.floor(x)`) of consecutive points, the one with the lowest and
 * the one with the highest `y`, in their order (one point when they are the
 * same). `xs` are pixel positions, ascending. A point whose `y` (or `x`) is
 * null or not finite is a gap: with `breakAtGaps` it ends the line (the
 * result has one array per unbroken part), otherwise it is skipped and the
 * line goes on over it (the result has at most one array). A series with at
 * most one point per column comes back whole.
 */
export function thinLine(xs: ArrayLike<number>, ys: ArrayLike<number | null>, breakAtGaps = false): Point[][] {
  const lines: Point[][] = [];
  let line: Point[] = [];
  let column = NaN;
  let lo = -1, hi = -1; // indices of the current column's lowest and highest point
  const point = (i: number): Point => ({ x: xs[i], y: ys[i] as number });
  const flush = () => {
    if (lo < 0) return;
    if (lo === hi) line.push(point(lo));
    else if (lo < hi) line.push(point(lo), point(hi));
    else line.push(point(hi), point(lo));
    lo = hi = -1;
  };
  const n = Math.min(xs.length, ys.length);
  for (let i = 0; i < n; i++) {
    const x = xs[i], y = ys[i];
    if (y === null || !Number.isFinite(y) || !Number.isFinite(x)) {
      if (breakAtGaps) {
        flush();
        if (line.length) lines.push(line);
        line = [];
        column = NaN;
      }
      continue;
    }
    const c = Math.floor(x);
    if (c !== column) {
      flush();
      column = c;
      lo = hi = i;
    } else if (y < (ys[lo] as number)) {
      lo = i;
    } else if (y > (ys[hi] as number)) {
      hi = i;
    }
  }
  flush();
  if (line.length) lines.push(line);
  return lines;
}
