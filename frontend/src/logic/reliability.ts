// Reliability diagram data: the bins of a calibration answer as bars
// (accuracy against mean confidence per confidence bin, with bin counts).
// ECE itself comes from the server (tb_fmnist_plugin/metrics.py). Pure: no DOM.

/** One class's (or the whole set's) bins, as the calibration route sends them. */
export interface BinsIn { count: number[]; confidence: (number | null)[]; accuracy: (number | null)[] }

export interface Bin {
  index: number;
  /** The bin's confidence range [lo, hi). */
  lo: number;
  hi: number;
  count: number;
  /** Mean top-1 confidence and fraction correct of the bin's examples; null for an empty bin. */
  confidence: number | null;
  accuracy: number | null;
  /** Share of all examples in this bin. */
  share: number;
}

/** The bins between `edges` (B + 1 ascending values), checked against the lists' lengths. */
export function reliabilityBins(edges: number[], bins: BinsIn): Bin[] {
  const b = edges.length - 1;
  if (b < 1 || bins.count.length !== b || bins.confidence.length !== b || bins.accuracy.length !== b) {
    throw new Error(`reliability bins do not match their ${Math.max(0, b)} edges`);
  }
  let total = 0;
  for (const c of bins.count) total += c > 0 ? c : 0;
  return bins.count.map((count, i) => {
    const empty = !(count > 0);
    return {
      index: i, lo: edges[i], hi: edges[i + 1], count: empty ? 0 : count,
      confidence: empty ? null : finiteOrNull(bins.confidence[i]),
      accuracy: empty ? null : finiteOrNull(bins.accuracy[i]),
      share: total > 0 && !empty ? count / total : 0,
    };
  });
}

/** The largest bin count (0 if all are empty), for scaling the count bars. */
export function maxCount(bins: Bin[]): number {
  let max = 0;
  for (const b of bins) if (b.count > max) max = b.count;
  return max;
}

/** Overconfidence of a bin: mean confidence minus accuracy (null for an empty bin). */
export function binGap(bin: Bin): number | null {
  return bin.confidence === null || bin.accuracy === null ? null : bin.confidence - bin.accuracy;
}

function finiteOrNull(v: number | null | undefined): number | null {
  return v === null || v === undefined || !Number.isFinite(v) ? null : v;
}

/** What a calibration answer's per-class numbers are (its `per_class_kind` / `class_ece_kind`). */
export type PerClassKind = "predicted_class" | "true_class";

/** The classwise ECE (Kull et al., NeurIPS 2019), as the column's and the card's help text. */
export const CLASSWISE_ECE_HELP = "Classwise ECE of class k: over all N examples, with the probability p_k the model gives class k "
  + "and the outcome [label = k], in equal-width bins b of p_k: ECE_k = Σ_b (n_kb / N) · |acc_kb − conf_kb|, "
  + "where acc_kb is the share of the bin's examples labelled k and conf_kb their mean p_k. "
  + "0 is perfectly calibrated; unlike a per-true-class ECE it does not grow with low recall.";

/** The older per-true-class ECE (files logged before classwise bins), as help text. */
export const TRUE_CLASS_ECE_HELP = "Older definition (this step was logged before classwise calibration): the top-label ECE of the "
  + "examples of this true class, which mixes miscalibration with low recall.";

/** Column label, header tooltip and the per-class diagram's title for one kind of answer. */
export function perClassText(kind: PerClassKind, name: string): { column: string; columnHelp: string; diagram: string; diagramHelp: string } {
  return kind === "predicted_class"
    ? { column: "ECE (classwise)", columnHelp: CLASSWISE_ECE_HELP, diagram: `Predicted class ${name}`,
        diagramHelp: `Examples the model predicted as ${name}: when it says ${name} with confidence c, how often it is right.` }
    : { column: "ECE (true class, older)", columnHelp: TRUE_CLASS_ECE_HELP, diagram: `True class ${name} (older definition)`,
        diagramHelp: `Examples of true class ${name}, binned by top-1 confidence: the older per-true-class diagram, which mixes miscalibration with low recall.` };
}
