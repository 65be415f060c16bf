// Display formatting of counts, shares and metrics.
import type { Norm } from "./matrix";

/** `v` with `digits` decimals, never "-0.0": a value that rounds to zero is written without a sign. */
export function fixed(v: number, digits: number): string {
  const text = v.toFixed(digits);
  return Number(text) === 0 ? (0).toFixed(digits) : text;
}

export function formatCount(v: number): string {
  if (!Number.isFinite(v)) return "–";
  const c = Math.round(v);
  return String(c === 0 ? 0 : c);
}

export function formatShare(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  return `${fixed(v * 100, 1)}%`;
}

export function formatMetric(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  return fixed(v, 3);
}

/** A probability for people: two decimals (0.13), "–" for none. */
export function formatProbability(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  return fixed(v, 2);
}

/** A difference of metrics with its sign (+0.120, −0.045, 0.000), "–" for none. */
export function formatSigned(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  const text = formatMetric(Math.abs(v));
  return text === formatMetric(0) ? text : v > 0 ? `+${text}` : `−${text}`;
}

/** Text inside a heatmap cell. */
export function formatCell(v: number, norm: Norm, diff: boolean): string {
  if (!Number.isFinite(v)) return "–";
  if (norm === "counts") {
    const c = Math.round(v);
    return diff && c > 0 ? `+${c}` : formatCount(c);
  }
  const p = v * 100;
  const text = Math.abs(p) >= 99.95 ? fixed(p, 0) : fixed(p, 1);
  if (Number(text) === 0) return "0"; // no "-0.0", and no "+0.0" in a difference
  return diff && p > 0 ? `+${text}` : text;
}

/** Rows of one evaluation left out of the matrix of `tag` drawn for `run` at `step`. */
export interface ExcludedRows { run: string; tag: string; step: number; rows: number; evaluated: number }

/** The warning shown above a matrix whose evaluation left rows out because
 * their logits held NaN; names the hooks' scalar for their tags (confusion/<set>). */
export function excludedRowsNotice({ run, tag, step, rows, evaluated }: ExcludedRows): string {
  const set = tag.startsWith("confusion/") ? tag.slice("confusion/".length) : "";
  const scalar = set ? ` (scalar nonfinite/${set})` : "";
  return `Run “${run}”, step ${step}: ${rows} of ${evaluated} evaluated rows had NaN logits and are left out of this matrix and its metrics${scalar}.`;
}

export const NORM_LABELS: Record<Norm, string> = {
  counts: "Counts",
  true: "By true class (recall)",
  pred: "By predicted class (precision)",
  total: "By total",
};

export const NORM_UNITS: Record<Norm, string> = {
  counts: "examples",
  true: "% of the true class",
  pred: "% of the predicted class",
  total: "% of all examples",
};
