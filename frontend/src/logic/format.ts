// Display formatting of counts, shares and metrics.
import type { Norm } from "./matrix";

export function formatCount(v: number): string {
  if (!Number.isFinite(v)) return "–";
  return String(Math.round(v));
}

export function formatShare(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  return `${(v * 100).toFixed(1)}%`;
}

export function formatMetric(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  return v.toFixed(3);
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
    return diff && c > 0 ? `+${c}` : String(c);
  }
  const p = v * 100;
  const text = Math.abs(p) >= 99.95 || p === 0 ? p.toFixed(0) : p.toFixed(1);
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
