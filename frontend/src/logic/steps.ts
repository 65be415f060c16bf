// Step bookkeeping: the union of steps of several runs, nearest step per run.

/** Sorted, de-duplicated union of several ascending step lists. */
export function unionSteps(lists: number[][]): number[] {
  const set = new Set<number>();
  for (const list of lists) for (const s of list) set.add(s);
  return Array.from(set).sort((a, b) => a - b);
}

/** The step of ascending `steps` closest to `target` (the earlier one on a tie); null if none. */
export function nearestStep(steps: number[], target: number): number | null {
  if (steps.length === 0) return null;
  let lo = 0, hi = steps.length - 1;
  if (target <= steps[lo]) return steps[lo];
  if (target >= steps[hi]) return steps[hi];
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (steps[mid] <= target) lo = mid;
    else hi = mid;
  }
  return target - steps[lo] <= steps[hi] - target ? steps[lo] : steps[hi];
}

/** Index of `step` in `steps` or of the nearest one (0 when empty). */
export function nearestIndex(steps: number[], target: number): number {
  const s = nearestStep(steps, target);
  return s === null ? 0 : Math.max(0, steps.indexOf(s));
}
