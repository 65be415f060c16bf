// Card "Calibration": reliability diagrams of the whole set and of the
// selected class (the selected cell's true class, or the class picked in the
// table), with the overall ECE and mean loss, from the calibration route.
import { ApiError } from "../api";
import { formatMetric } from "../logic/format";
import { card, fillWhenLoaded, type CardContext } from "./card";
import { h } from "./dom";
import { describeError } from "./messages";
import { reliabilityDiagram } from "./reliability-diagram";
import type { PanelView } from "./state";

export function calibrationCard({ state, store }: CardContext, v: PanelView, where: string): HTMLElement {
  const el = card("tbc-calibration", "Calibration", "Calibration");
  fillWhenLoaded(el, store.calibration(v.run, v.tag, v.step), "calibration", (c) => {
    el.appendChild(h("div", { class: "hint", id: "tbc-calibration-summary", "data-ece": c.overall.ece ?? "", "data-loss": c.loss ?? "" },
      `${where}${v.diff ? " (B)" : ""}: ECE ${formatMetric(c.overall.ece)}, mean loss ${formatMetric(c.loss)}. `
      + "Bars: accuracy per confidence bin; shaded: the gap to the bin's mean confidence (above the bar: overconfident); dashed: perfect calibration; below: examples per bin."));
    const row = h("div", { class: "reliability-row" });
    el.appendChild(row);
    try {
      row.appendChild(reliabilityDiagram({ scope: "all", title: "All classes", edges: c.edges, bins: c.overall, ece: c.overall.ece }));
      const cls = state.selectedClassOf(v);
      const klass = cls === null ? undefined : c.classes[cls];
      if (klass) {
        row.appendChild(reliabilityDiagram({ scope: klass.index, title: `True class ${klass.name}`, edges: c.edges, bins: klass, ece: klass.ece }));
      } else {
        row.appendChild(h("p", { class: "muted" }, "Select a cell (its true class) or a class in the table for the class's diagram."));
      }
    } catch (e) {
      row.appendChild(h("p", { class: "notice error" }, `Could not draw the calibration: ${describeError(e)}`));
    }
  }, (e) => e instanceof ApiError && e.status === 404
    ? `No calibration was logged at step ${v.step} (${e.message}).`
    : `Could not load the calibration: ${describeError(e)}`);
  return el;
}
