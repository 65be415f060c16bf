// Which diagnoses a matrix tag has (the "diagnostics" kinds of its listing),
// the set a tag is compared with (its "train" sibling), and the small
// computations on the diagnostics' answers the tab draws. Pure: no DOM.
import { fromRows, type Matrix } from "./matrix";

/** The diagnostic kinds the tab uses, as the tags route lists them (by tag suffix). */
export type DiagnosticKind = "reliability" | "cell_confidence" | "class_loss" | "confident_joint" | "label_issues" | "suspects";

/** Whether `listed` (a tag's "diagnostics"; absent in older files) has `kind`. */
export function hasKind(listed: readonly string[] | null | undefined, kind: DiagnosticKind): boolean {
  if (!Array.isArray(listed)) return false;
  return listed.includes(kind);
}

/** The last path segment of a tag: the set it evaluates (`confusion/test` → `test`). */
export function setName(tag: string): string {
  const i = tag.lastIndexOf("/");
  return i < 0 ? tag : tag.slice(i + 1);
}

/** The tag of the training set next to `tag`: its last path segment replaced
 * by "train" (`confusion/test` → `confusion/train`); null for a train tag. */
export function trainTagOf(tag: string): string | null {
  const i = tag.lastIndexOf("/");
  const train = i < 0 ? "train" : `${tag.slice(0, i + 1)}train`;
  return train === tag ? null : train;
}

/** A matrix tag of a run with its class count. */
export interface TagClasses { tag: string; classes: number }

/** Set A for comparing sets with `tagB` (`classes` classes) in one run: `wanted`
 * if the run has it with the same classes, else the train tag, else the first
 * other tag of the same classes; null if none. */
export function pickSetA(tagB: string, classes: number, available: TagClasses[], wanted: string | null = null): string | null {
  const fits = available.filter((t) => t.tag !== tagB && t.classes === classes).map((t) => t.tag);
  if (wanted !== null && fits.includes(wanted)) return wanted;
  const train = trainTagOf(tagB);
  if (train !== null && fits.includes(train)) return train;
  return fits.slice().sort()[0] ?? null;
}

/** Recall of the train set minus recall of the evaluated set (positive:
 * better on the training data, the sign of overfitting); null if either is. */
export function recallGap(train: number | null | undefined, test: number | null | undefined): number | null {
  if (train === null || train === undefined || test === null || test === undefined) return null;
  if (!Number.isFinite(train) || !Number.isFinite(test)) return null;
  return train - test;
}

/** A C x C matrix from rows that may hold null (NaN there), e.g. the mean confidence per cell. */
export function nullableMatrix(rows: (number | null)[][]): Matrix {
  const m = fromRows(rows.map((row) => (Array.isArray(row) ? row.map((v) => (v === null ? 0 : v)) : row)) as number[][]);
  rows.forEach((row, i) => row.forEach((v, j) => { if (v === null || !Number.isFinite(v)) m.data[i * m.n + j] = NaN; }));
  return m;
}
