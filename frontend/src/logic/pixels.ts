// A window of the shown matrix reduced to a grid of pixels: each pixel takes
// the largest value (by magnitude) of the cells it covers, so one confused
// cell among a thousand still colours its pixel. Nothing is sampled: every
// cell of the window falls into exactly one pixel.
import { scalePosition } from "./colors";
import type { Matrix } from "./matrix";

export interface PixelWindow {
  /** First shown row / column of the window and its size in shown classes (rows = columns). */
  r0: number;
  c0: number;
  span: number;
  /** Pixels per side (at most `span`: a pixel never covers less than one cell). */
  px: number;
}

/** The pixel grid of `win` (px x px, row-major): per pixel the value of largest
 * magnitude among its cells of `values` (rows and columns `shown`), skipping
 * NaN cells and, when `skipDiagonal`, the diagonal; NaN for a pixel with no
 * such cell. Pixel p covers the shown positions [floor(p*span/px), floor((p+1)*span/px)). */
export function aggregateMax(values: Matrix, shown: number[], win: PixelWindow, skipDiagonal: boolean): Float64Array {
  const { r0, c0, span } = win;
  const px = Math.max(1, Math.min(win.px, span));
  const out = new Float64Array(px * px).fill(NaN);
  const n = values.n, d = values.data;
  // pixel of each shown column of the window, computed once
  const colPixel = new Int32Array(span);
  const cols = new Int32Array(span);
  for (let c = 0; c < span; c++) { colPixel[c] = Math.floor((c * px) / span); cols[c] = shown[c0 + c]; }
  for (let r = 0; r < span; r++) {
    const t = shown[r0 + r];
    const base = t * n;
    const rowOff = Math.floor((r * px) / span) * px;
    for (let c = 0; c < span; c++) {
      const v = d[base + cols[c]];
      if (v !== v || (skipDiagonal && cols[c] === t)) continue;
      const o = rowOff + colPixel[c];
      const cur = out[o];
      // NaN (no cell yet) compares false: the first cell always lands
      if (!((cur < 0 ? -cur : cur) >= (v < 0 ? -v : v))) out[o] = v;
    }
  }
  return out;
}

/** The window of `span` shown classes starting at (r0, c0), clamped into [0, k). */
export function clampWindow(k: number, r0: number, c0: number, span: number, px: number): PixelWindow {
  const s = Math.max(1, Math.min(k, Math.round(span)));
  const clamp = (x: number) => Math.max(0, Math.min(k - s, Math.floor(x)));
  return { r0: clamp(r0), c0: clamp(c0), span: s, px: Math.max(1, Math.min(px, s)) };
}

/** A colour table of (r, g, b) triples (colors.ts lut) as opaque pixels for a
 * Uint32Array view of ImageData (RGBA bytes in memory order on little-endian
 * machines, which browsers all run on): one write per pixel instead of four. */
export function packedLut(table: Uint8Array): Uint32Array {
  const out = new Uint32Array(table.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = (255 << 24 | table[i * 3 + 2] << 16 | table[i * 3 + 1] << 8 | table[i * 3]) >>> 0;
  return out;
}

/** Faint grey: a pixel without a value (hidden diagonal, no predictions). */
export const EMPTY_PIXEL = (40 << 24 | 128 << 16 | 128 << 8 | 128) >>> 0;

/** Colour `values` into `out` with `table`: its entries spread evenly over [0, domain] (or [-domain, domain]
 * when `divergent`), linearly or on the log scale (colors.ts scalePosition); ends clamped; NaN: EMPTY_PIXEL. */
export function colourPixels(values: Float64Array, out: Uint32Array, table: Uint32Array, domain: number, divergent: boolean, log: boolean): void {
  const last = table.length - 1;
  const inv = domain > 0 ? 1 / domain : 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== v) { out[i] = EMPTY_PIXEL; continue; }
    const t = log ? scalePosition(v, domain, true) : v * inv;
    let idx = Math.round(divergent ? ((t + 1) / 2) * last : t * last);
    idx = idx < 0 ? 0 : idx > last ? last : idx;
    out[i] = table[idx];
  }
}
