// What both heatmap renderers share: the data they draw, the events they
// report, and each cell's tooltip text and colour.
import { diverging, scalePosition, sequential, type RGB } from "../logic/colors";
import { formatCell, formatCount, formatMetric, formatShare } from "../logic/format";
import type { Matrix, Norm } from "../logic/matrix";
import { countWithUnit, isDense } from "../logic/units";

/** A point in the page's viewport (CSS px). */
export interface Point { x: number; y: number }

export interface HeatmapData {
  names: string[];
  shown: number[];
  counts: Matrix; // counts (B in difference mode)
  countsA: Matrix | null; // difference mode: counts of A
  values: Matrix; // displayed values
  confidence: Matrix | null; // colour by: mean confidence per cell (NaN: no predictions); null: colour by values
  norm: Norm;
  diff: boolean;
  hideDiagonal: boolean;
  domain: number;
  log: boolean; // values (not confidences) coloured on the log scale (colors.ts scalePosition)
  label: string;
  selected: [number, number] | null;
  /** The cell of the example picked in the Examples card at this panel's step (outlined); absent or null: none. */
  marked?: [number, number] | null;
  /** What one count is (the tag's unit); absent: examples. Pixels and tokens are named in the tooltip. */
  unit?: string;
}

export interface HeatmapEvents {
  select(t: number, p: number): void;
  hover(t: number | null, p: number | null, anchor: Point | null, lines: string[]): void;
}

/** Tooltip lines of one cell. */
export function cellLines(d: HeatmapData, t: number, p: number, rowTotals: Float64Array, colTotals: Float64Array): string[] {
  const n = d.counts.n;
  const c = d.counts.data[t * n + p];
  const lines = [`True: ${d.names[t]}`, `Predicted: ${d.names[p]}`];
  const count = (x: number) => (isDense(d.unit) ? countWithUnit(x, d.unit) : formatCount(x));
  if (d.diff && d.countsA) {
    const a = d.countsA.data[t * n + p];
    const delta = d.values.data[t * n + p];
    lines.push(`Count: ${count(a)} (A) → ${count(c)} (B)`);
    lines.push(`Difference B − A: ${formatCell(delta, d.norm, true)}${d.norm === "counts" ? "" : " points"}`);
  } else {
    lines.push(`Count: ${count(c)}`);
  }
  lines.push(`Share of row (true ${d.names[t]}): ${formatShare(rowTotals[t] > 0 ? c / rowTotals[t] : null)}`);
  lines.push(`Share of column (predicted ${d.names[p]}): ${formatShare(colTotals[p] > 0 ? c / colTotals[p] : null)}`);
  if (d.confidence) {
    const conf = d.confidence.data[t * n + p];
    lines.push(`Mean confidence: ${Number.isFinite(conf) ? formatMetric(conf) : "– (no predictions)"}`);
  }
  return lines;
}

/** The number that colours cell (t, p): its mean confidence (on [0, 1]) when
 * the cells are coloured by it, else its shown value (on [0, domain]). */
export function colourValue(d: HeatmapData, t: number, p: number): number {
  const n = d.values.n;
  return d.confidence ? d.confidence.data[t * n + p] : d.values.data[t * n + p];
}

/** The colour of cell (t, p); null for no colour (hidden, or no value). */
export function cellColour(d: HeatmapData, t: number, p: number, diagonalHidden: boolean): RGB | null {
  const v = colourValue(d, t, p);
  if (diagonalHidden || !Number.isFinite(v)) return null;
  if (d.confidence) return sequential(v);
  const at = scalePosition(v, d.domain, d.log);
  return d.diff ? diverging(at) : sequential(at);
}
