// One colour per run, the same everywhere in the tab (run table, panel
// headings): as TensorBoard does, by the run's position in the sorted list of
// every listed run, so filtering, sorting or ticking never changes a colour.

/** Twelve hues readable as text accents and swatches on the light and the dark theme. */
export const RUN_PALETTE: readonly string[] = [
  "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00",
  "#8c6bb1", "#7f7f00", "#e7298a", "#1b9e77", "#a6761d", "#737373",
];

/** `{run: colour}` for every run of `runs` (any order, duplicates ignored). */
export function runColours(runs: Iterable<string>): Map<string, string> {
  const sorted = Array.from(new Set(runs)).sort();
  const colours = new Map<string, string>();
  sorted.forEach((run, i) => colours.set(run, RUN_PALETTE[i % RUN_PALETTE.length]));
  return colours;
}
