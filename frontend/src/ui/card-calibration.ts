// Card "Calibration": reliability diagrams of the whole set and of the
// selected class, with the overall (top-label) ECE and mean loss, from the
// calibration route. The class's diagram is of the examples PREDICTED as it
// ("when the model says k with confidence c, how often is it right") with
// its classwise ECE; for a step logged before those (per_class_kind
// "true_class") it is the older per-true-class diagram, titled and noted so.
import { ApiError, type CalibrationResponse } from "../api";
import { formatCount, formatMetric } from "../logic/format";
import { countUnit, isDense } from "../logic/units";
import { CLASSWISE_ECE_HELP, perClassText } from "../logic/reliability";
import { card, fillWhenLoaded, type CardContext } from "./card";
import { h } from "./dom";
import { describeError } from "./messages";
import { reliabilityDiagram } from "./reliability-diagram";
import type { PanelView } from "./state";

export function calibrationCard({ state, store }: CardContext, v: PanelView, where: string): HTMLElement {
  const el = card("tbc-calibration", "Calibration", "Calibration");
  fillWhenLoaded(el, store.calibration(v.run, v.tag, v.step), "calibration", (c) => {
    el.appendChild(h("div", { class: "hint", id: "tbc-calibration-summary", "data-ece": c.overall.ece ?? "", "data-loss": c.loss ?? "",
      "data-per-class-kind": c.per_class_kind },
      `${where}${v.diff ? " (B)" : ""}: ECE (top-label) ${formatMetric(c.overall.ece)}, mean loss ${formatMetric(c.loss)}. `
      + "Bars: accuracy per confidence bin; shaded: the gap to the bin's mean confidence; dashed: perfect calibration; below: examples per bin."));
    el.appendChild(kindNote(c));
    const sampled = sampleNote(c, v, state.info(v.run, v.tag)?.unit);
    if (sampled) el.appendChild(sampled);
    const row = h("div", { class: "reliability-row" });
    el.appendChild(row);
    try {
      row.appendChild(reliabilityDiagram({ scope: "all", title: "All classes", edges: c.edges, bins: c.overall, ece: c.overall.ece,
        help: "Every example, binned by its top-1 confidence (top-label calibration)" }));
      const cls = state.selectedClassOf(v);
      const klass = cls === null ? undefined : c.classes[cls];
      if (klass) {
        const text = perClassText(c.per_class_kind, klass.name);
        const predicted = c.per_class_kind === "predicted_class";
        row.appendChild(reliabilityDiagram({ scope: klass.index, title: text.diagram, help: text.diagramHelp, edges: c.edges, bins: klass,
          ece: predicted ? klass.predicted_ece ?? null : klass.ece }));
        if (predicted) {
          row.appendChild(h("p", { class: "hint class-ece", id: "tbc-classwise-ece", "data-ece": klass.ece ?? "", title: CLASSWISE_ECE_HELP },
            `Classwise ECE of ${klass.name}: ${formatMetric(klass.ece)} (over all examples, its probability p_k against [label = ${klass.name}]; hover for the formula).`));
        }
      } else {
        row.appendChild(h("p", { class: "muted" }, "Select a class in the table (or a cell: its true class) for the class's diagram."));
      }
    } catch (e) {
      row.appendChild(h("p", { class: "notice error" }, `Could not draw the calibration: ${describeError(e)}`));
    }
  }, (e) => e instanceof ApiError && e.status === 404
    ? `No calibration was logged at step ${v.step} (${e.message}).`
    : `Could not load the calibration: ${describeError(e)}`);
  return el;
}

/** What the per-class numbers are: the formula, or the note that they are the older definition. */
function kindNote(c: CalibrationResponse): HTMLElement {
  return c.per_class_kind === "predicted_class"
    ? h("div", { class: "hint calibration-kind", "data-kind": "predicted_class", title: CLASSWISE_ECE_HELP },
      "Per class: the diagram of the examples predicted as the class, and its classwise ECE: "
      + "ECE_k = Σ_b (n_kb / N) · |acc_kb − conf_kb| over all N examples, binned by p_k, with the outcome [label = k].")
    : h("div", { class: "notice calibration-kind", "data-kind": "true_class" },
      "This step was logged before classwise calibration: the per-class diagram and ECE are the older per-true-class "
      + "definition (the examples of each true class), which mixes miscalibration with low recall.");
}

/** Dense tasks: the hooks calibrate on a sample of positions (docs/hooks.md), the matrix counts all; say so. */
function sampleNote(c: CalibrationResponse, v: PanelView, unit: string | null | undefined): HTMLElement | null {
  if (!isDense(unit) || v.diff) return null;
  const calibrated = c.overall.count.reduce((s, x) => s + x, 0);
  const counted = v.counts.data.reduce((s, x) => s + x, 0);
  if (calibrated >= counted) return null;
  return h("div", { class: "hint calibration-sample", "data-calibrated": calibrated, "data-counted": counted },
    `Calibration over a sample of ${formatCount(calibrated)} of the ${formatCount(counted)} ${countUnit(unit)} `
    + "(at most 8,192 evenly spaced positions per record() call); the matrix and IoU count every one.");
}
