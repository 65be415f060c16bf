// What one count of a matrix is (the tags listing's `unit`: examples for
// classification, pixels for segmentation, tokens for token classification)
// and how the tab words counts and IoU for it. Pure functions.
import type { Ratio } from "../api";
import { formatCount, formatMetric } from "./format";

export type Unit = "examples" | "pixels" | "tokens";

const SINGULAR: Record<Unit, string> = { examples: "example", pixels: "pixel", tokens: "token" };

/** The unit a listing entry names; "examples" when absent (an older server)
 * or not one the tab knows. */
export function countUnit(unit: string | null | undefined): Unit {
  return unit === "pixels" || unit === "tokens" ? unit : "examples";
}

/** Whether counts are of positions in an example (pixels, tokens): a dense
 * task, whose tab shows IoU per class and mean IoU. */
export function isDense(unit: string | null | undefined): boolean {
  return countUnit(unit) !== "examples";
}

/** `n` with its unit, e.g. "1 pixel", "12 tokens", "3 examples". */
export function countWithUnit(n: number, unit: string | null | undefined): string {
  const u = countUnit(unit);
  return `${formatCount(n)} ${Math.round(n) === 1 ? SINGULAR[u] : u}`;
}

/** The mean IoU note shown by a dense tag's panel title; "" when the tag is
 * not dense or the answer carries none (an older server). */
export function meanIouText(unit: string | null | undefined, meanIou: Ratio | undefined): string {
  return isDense(unit) && meanIou !== undefined ? `mean IoU ${formatMetric(meanIou)}` : "";
}

/** The unit shared by every drawn panel (one colour bar serves them all);
 * "examples" when they differ or there is none. */
export function sharedUnit(units: (string | null | undefined)[]): Unit {
  const found = new Set(units.map(countUnit));
  return found.size === 1 ? [...found][0] : "examples";
}

/** What a normalization's values are, in `unit`: `base` (format.ts'
 * NORM_UNITS text, which counts examples) with its examples named as `unit`. */
export function normUnitText(base: string, unit: Unit): string {
  return unit === "examples" ? base : base.replace(/\bexamples\b/, unit);
}
