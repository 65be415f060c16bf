// The view controls of the diagnoses, shown only when a ticked run's tag has
// them: "Colour cells by: count | mean confidence" (cell_confidence) and the
// suspects-per-cell overlay (label_issues). Both are remembered settings and
// apply to the matrices (not to a difference, whose cells compare two).
import { hasKind, type DiagnosticKind } from "../logic/diagnostics";
import type { ColourBy } from "../logic/settings";
import { h } from "./dom";
import type { Actions, TabState } from "./state";

export class DiagnosticControls {
  readonly colourBox = h("fieldset", { id: "tbc-colour-by", hidden: true }, h("legend", {}, "Colour cells by"));
  readonly overlayLabel: HTMLLabelElement;
  private overlay = h("input", { type: "checkbox", id: "tbc-suspects-overlay" });

  constructor(private state: TabState, private actions: Actions) {
    const settings = state.settings;
    for (const [value, label] of [["count", "count"], ["confidence", "mean confidence"]] as [ColourBy, string][]) {
      const input = h("input", { type: "radio", name: "tbc-colour-by", value, id: `tbc-colour-${value}` });
      input.checked = settings.colourBy === value;
      input.addEventListener("change", () => { if (input.checked) { settings.colourBy = value; this.changed(); } });
      this.colourBox.appendChild(h("label", { title: value === "confidence" ? "Colour each cell by the mean top-1 confidence of its predictions: confident errors stand out from unsure ones" : "Colour each cell by its shown value" }, input, label));
    }
    this.overlay.checked = settings.suspectsOverlay;
    this.overlay.addEventListener("change", () => { settings.suspectsOverlay = this.overlay.checked; this.changed(); });
    this.overlayLabel = h("label", { hidden: true, title: "Draw the number of suspected label errors (confident learning) in each cell: given label = row, suggested label = column" },
      this.overlay, "Suspects per cell");
  }

  /** Show each control only in matrix mode, if a ticked run's tag has its diagnosis. */
  sync(): void {
    this.colourBox.hidden = !this.anyRunHas("cell_confidence");
    this.overlayLabel.hidden = !this.anyRunHas("label_issues");
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
