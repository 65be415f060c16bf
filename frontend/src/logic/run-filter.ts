// The run table's pure parts: filtering run names (substring, or a regular
// expression as TensorBoard's run selector does; case-insensitive), sorting
// rows by name or by a number of the listing's summary, the default
// selection (the most recent runs) and the counts line.

/** One row of the run table: a run and its numbers at the last step (null: unknown). */
export interface RunRow {
  name: string;
  /** `name` in lower case, computed once so that a keystroke filters cheaply. */
  lower: string;
  /** Wall time of the run's last step of the tag (0 when none). */
  lastWall: number;
  accuracy: number | null;
  worstRecall: number | null;
  worstClass: number | null;
  ece: number | null;
  /** Recall per class, when the listing sends it. */
  recall: (number | null)[] | null;
}

export type SortKey = "name" | "accuracy" | "worst" | "ece" | "class";
export interface Sort { key: SortKey; descending: boolean }

/** A compiled filter: `test(row)`; `error` says why a regular expression was refused (it then filters nothing). */
export interface RunFilter { test: (row: RunRow) => boolean; error: string | null; active: boolean }

/** The filter for `text`: a substring, or with `regex` a regular expression; both ignore case. */
export function compileFilter(text: string, regex: boolean): RunFilter {
  if (text === "") return { test: () => true, error: null, active: false };
  if (!regex) {
    const needle = text.toLowerCase();
    return { test: (row) => row.lower.includes(needle), error: null, active: true };
  }
  let re: RegExp;
  try {
    re = new RegExp(text, "i");
  } catch (e) {
    const why = e instanceof Error ? e.message.replace(/^Invalid regular expression: /, "") : String(e);
    return { test: () => true, error: `Invalid regular expression: ${why}. Showing every run.`, active: false };
  }
  return { test: (row) => re.test(row.name), error: null, active: true };
}

/** The rows that pass `filter`, in their order. */
export function filterRows(rows: RunRow[], filter: RunFilter): RunRow[] {
  return filter.active ? rows.filter(filter.test) : rows.slice();
}

/** The number a column sorts by (`cls`: the class of the "class recall" column). */
export function sortValue(row: RunRow, key: Exclude<SortKey, "name">, cls: number): number | null {
  switch (key) {
    case "accuracy": return row.accuracy;
    case "worst": return row.worstRecall;
    case "ece": return row.ece;
    case "class": return row.recall?.[cls] ?? null;
  }
}

/** `rows` sorted by `sort` (ties and the name column by name); unknown numbers last in both directions. */
export function sortRows(rows: RunRow[], sort: Sort, cls = 0): RunRow[] {
  const byName = (a: RunRow, b: RunRow) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const sign = sort.descending ? -1 : 1;
  if (sort.key === "name") return rows.slice().sort((a, b) => sign * byName(a, b));
  const key = sort.key;
  const keyed = rows.map((row) => ({ row, v: sortValue(row, key, cls) }));
  keyed.sort((a, b) => {
    if (a.v === null || b.v === null) return a.v === b.v ? byName(a.row, b.row) : a.v === null ? 1 : -1;
    return a.v !== b.v ? sign * (a.v - b.v) : byName(a.row, b.row);
  });
  return keyed.map((k) => k.row);
}

/** The default selection: the `count` runs with the latest last step, by name. */
export function mostRecent(rows: { name: string; lastWall: number }[], count: number): string[] {
  return rows.slice().sort((a, b) => b.lastWall - a.lastWall || (a.name < b.name ? -1 : 1))
    .slice(0, count).map((r) => r.name).sort();
}

const NUMBER = new Intl.NumberFormat("en-US");

/** The notice when only `cap` of the `ticked` runs get a matrix panel: "Showing the matrices of 24 of the 1,000 ticked runs; …". */
export function panelCapNotice(ticked: number, cap: number): string {
  return `Showing the matrices of ${NUMBER.format(cap)} of the ${NUMBER.format(ticked)} ticked runs; ` +
    `the first ${NUMBER.format(cap)} in the run table's order. Sort the table, or tick fewer runs (the filter and Filtered), to choose which.`;
}

/** "12 of 1,000 runs shown, 4 selected". */
export function countsLine(shown: number, total: number, selected: number): string {
  return `${NUMBER.format(shown)} of ${NUMBER.format(total)} run${total === 1 ? "" : "s"} shown, ${NUMBER.format(selected)} selected`;
}

/** A ratio as a percentage with one decimal ("–" when unknown). */
export function percent(x: number | null): string {
  return x === null ? "–" : `${(x * 100).toFixed(1)}%`;
}
