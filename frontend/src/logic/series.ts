// One class's values out of the series routes' per-class fields
// (`[[per class] per step]`), whole or narrowed to some classes' columns.

/** The values of class `cls` over the steps: column `cls` of `rows`, or, when
 * the answer kept only the classes `columns` (metrics_series' `classes`), the
 * column at `cls`'s place among them. Missing rows, cells and fields (and a
 * class not among `columns`) are null. */
export function classColumn(rows: (number | null)[][] | undefined, cls: number, columns?: number[]): (number | null)[] {
  const j = columns ? columns.indexOf(cls) : cls;
  if (!rows) return [];
  return rows.map((row) => (row && j >= 0 ? row[j] ?? null : null));
}
