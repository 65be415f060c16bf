// The per-class table's columns beyond the metrics: IoU per class for a tag
// whose counts are pixels or tokens (a dense task), and the diagnoses' columns, where the tag has them:
// the classwise ECE (or, for a step logged before it, the older per-true-class
// ECE, labelled so) and mean loss per true class (calibration route), and, when the run
// has a set to compare with (its train tag, or set A of the "sets"
// difference), that set's recall and the gap to this set's recall.
import type { MetricsResponse } from "../api";
import { hasKind, recallGap, setName } from "../logic/diagnostics";
import { formatMetric, formatSigned } from "../logic/format";
import { perClassText } from "../logic/reliability";
import { countUnit, isDense } from "../logic/units";
import { nearestStep } from "../logic/steps";
import type { Cached } from "./cache";
import type { CardContext } from "./card";
import type { PanelView } from "./state";

export interface ExtraColumn {
  key: string;
  label: string;
  /** What the column means (the header's tooltip). */
  title: string;
  /** By class index. */
  values: (number | null)[];
  format: (v: number | null) => string;
}

/** The columns of `v`'s table beyond the metrics `m`, once their data is in
 * (a part that fails to load is left out). */
export function extraColumns({ state, store }: CardContext, v: PanelView, m: MetricsResponse): Cached<ExtraColumn[]> {
  const calibration = hasKind(state.info(v.run, v.tag)?.diagnostics, "reliability") ? store.calibration(v.run, v.tag, v.step) : null;
  const setA = state.comparedSet(v.run, v.tag);
  const stepA = setA === null ? null : nearestStep(state.info(v.run, setA)?.steps ?? [], v.step);
  const compared = setA === null || stepA === null ? null : store.metrics(v.run, setA, stepA);
  const n = m.classes.length;
  const unit = state.info(v.run, v.tag)?.unit;
  const build = (): ExtraColumn[] => {
    const columns: ExtraColumn[] = [];
    if (isDense(unit)) {
      columns.push({ key: "iou", label: "IoU", values: m.classes.map((c) => c.iou ?? null), format: formatMetric,
        title: `Intersection over union of the class's ${countUnit(unit)}: correct / (true + predicted − correct)` });
    }
    const cal = calibration?.value;
    if (cal && cal.classes.length === n) {
      const text = perClassText(cal.class_ece_kind === "classwise" ? "predicted_class" : "true_class", "");
      columns.push({ key: cal.class_ece_kind === "classwise" ? "ece" : "ece-true-class", label: text.column, title: text.columnHelp,
        values: cal.classes.map((c) => c.ece), format: formatMetric });
      columns.push({ key: "loss", label: "Loss", title: "Mean cross-entropy loss of the examples of this true class",
        values: cal.classes.map((c) => c.loss), format: formatMetric });
    }
    const other = compared?.value;
    if (setA !== null && other && other.classes.length === n) {
      const a = setName(setA), b = setName(v.tag);
      const at = stepA !== v.step ? ` at step ${stepA} (the nearest to ${v.step})` : "";
      const recallA = other.classes.map((c) => c.recall);
      columns.push({ key: "recall-a", label: `Recall (${a})`, title: `Recall of the class on ${setA}${at}`, values: recallA, format: formatMetric });
      columns.push({ key: "gap", label: `Gap (${a} − ${b})`,
        title: `Recall on ${setA} minus recall on ${v.tag}: positive where the class is recognised on ${a} but less on ${b} (overfitting)`,
        values: m.classes.map((c, i) => recallGap(recallA[i], c.recall)), format: formatSigned });
    }
    return columns;
  };
  const sources: Cached<unknown>[] = [];
  if (calibration) sources.push(calibration);
  if (compared) sources.push(compared);
  return {
    get value() { return sources.every((s) => s.value !== undefined) ? build() : undefined; },
    load: () => Promise.all(sources.map((s) => s.load().catch(() => undefined))).then(build),
  };
}
