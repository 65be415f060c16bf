// The view control of the diagnoses, shown only when a ticked run's tag has
// them: "Colour cells by: count | mean confidence" (cell_confidence). It is a
// remembered setting and applies to the matrices (not to a difference, whose
// cells compare two). Suspected label errors are counted by (given, suggested)
// label, not (true, predicted): they have their own matrix in the suspects
// card (card-suspects.ts), not a control here.
import { hasKind, type DiagnosticKind } from "../logic/diagnostics";
import type { ColourBy } from "../logic/settings";
import { h } from "./dom";
import type { Actions, TabState } from "./state";

export class DiagnosticControls {
  readonly colourBox = h("fieldset", { id: "tbc-colour-by", hidden: true }, h("legend", {}, "Colour cells by"));

  constructor(private state: TabState, private actions: Actions) {
    const settings = state.settings;
    for (const [value, label] of [["count", "count"], ["confidence", "mean confidence"]] as [ColourBy, string][]) {
      const input = h("input", { type: "radio", name: "tbc-colour-by", value, id: `tbc-colour-${value}` });
      input.checked = settings.colourBy === value;
      input.addEventListener("change", () => { if (input.checked) { settings.colourBy = value; this.changed(); } });
      this.colourBox.appendChild(h("label", { title: value === "confidence" ? "Colour each cell by the mean top-1 confidence of its predictions: confident errors stand out from unsure ones" : "Colour each cell by its shown value" }, input, label));
    }
  }

  /** Show the control only in matrix mode, if a ticked run's tag has its diagnosis. */
  sync(): void {
    this.colourBox.hidden = !this.anyRunHas("cell_confidence");
  }

  private anyRunHas(kind: DiagnosticKind): boolean {
    const state = this.state;
    return state.mode === "matrix" && state.runs.some((run) => hasKind(state.info(run)?.diagnostics, kind));
  }

  private changed(): void {
    this.state.save();
    this.actions.update();
  }
}
