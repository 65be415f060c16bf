// The controls above the panels (the runs are the run table's, run-table.ts): tag, view (matrices or difference),
// normalization, hide diagonal, classes (order, subset, top-k), export, and
// the difference bar. Each writes the state and asks the tab to update.
import { exportFileName, toCSV, toJSON, type ExportView } from "../logic/exporter";
import { NORM_LABELS } from "../logic/format";
import { NORMS, type Order } from "../logic/matrix";
import { DiagnosticControls } from "./controls-diagnostics";
import { clear, h, option } from "./dom";
import type { Actions, DiffKind, ExportKind, Mode, TabState } from "./state";

const SUBSET_DEBOUNCE_MS = 200;

export class Controls {
  readonly toolbar: HTMLElement;
  readonly diffBar = h("div", { class: "diffbar", id: "tbc-diffbar", hidden: true });
  private diagnostics: DiagnosticControls;
  private tagSelect = h("select", { id: "tbc-tag", "aria-label": "Matrix tag" });
  private modeButtons: Record<Mode, HTMLButtonElement> = {
    matrix: h("button", { type: "button", id: "tbc-mode-matrix", "aria-pressed": "true" }, "Matrices"),
    difference: h("button", { type: "button", id: "tbc-mode-diff", "aria-pressed": "false" }, "Difference"),
  };

  constructor(private state: TabState, private actions: Actions) {
    this.tagSelect.addEventListener("change", () => { state.tag = this.tagSelect.value; actions.tagChanged(); });
    for (const m of ["matrix", "difference"] as const) {
      this.modeButtons[m].addEventListener("click", () => {
        state.mode = m;
        if (m === "difference" && state.diffKind === "sets") this.openSets();
        this.syncMode();
        actions.update();
      });
    }
    const modeBox = h("fieldset", {}, h("legend", {}, "View"), this.modeButtons.matrix, this.modeButtons.difference);
    this.diagnostics = new DiagnosticControls(state, actions);
    this.toolbar = h("div", { class: "toolbar" }, h("label", {}, "Tag ", this.tagSelect), modeBox, this.normBox(),
      this.hideDiagonal(), this.diagnostics.colourBox, this.classBox(), this.exportBox());
  }

  /** Offer `tags`, with `state.tag` selected. */
  setTags(tags: string[]): void {
    clear(this.tagSelect);
    for (const t of tags) this.tagSelect.appendChild(option(t, t, t === this.state.tag));
  }

  /** Show the mode in the View buttons, and the difference bar in difference mode. */
  syncMode(): void {
    const mode = this.state.mode;
    this.modeButtons.matrix.setAttribute("aria-pressed", String(mode === "matrix"));
    this.modeButtons.difference.setAttribute("aria-pressed", String(mode === "difference"));
    this.diffBar.hidden = mode !== "difference";
    if (mode === "difference") this.buildDiffBar();
    this.diagnostics.sync();
  }

  /** Show the diagnoses' controls that the ticked runs' tag has. */
  syncDiagnostics(): void {
    this.diagnostics.sync();
  }

  private normBox(): HTMLElement {
    const settings = this.state.settings;
    const box = h("fieldset", { id: "tbc-norm" }, h("legend", {}, "Normalization"));
    for (const norm of NORMS) {
      const input = h("input", { type: "radio", name: "tbc-norm", value: norm, id: `tbc-norm-${norm}` });
      input.checked = settings.norm === norm;
      input.addEventListener("change", () => { if (input.checked) { settings.norm = norm; this.changed(); } });
      box.appendChild(h("label", {}, input, NORM_LABELS[norm]));
    }
    return box;
  }

  private hideDiagonal(): HTMLElement {
    const settings = this.state.settings;
    const input = h("input", { type: "checkbox", id: "tbc-hide-diagonal" });
    input.checked = settings.hideDiagonal;
    input.addEventListener("change", () => { settings.hideDiagonal = input.checked; this.changed(); });
    return h("label", {}, input, "Hide diagonal");
  }

  private classBox(): HTMLElement {
    const settings = this.state.settings;
    const order = h("select", { id: "tbc-order", "aria-label": "Class order" });
    for (const [value, label] of [["original", "Original order"], ["error", "Most errors first"], ["alpha", "Alphabetical"], ["cluster", "Cluster (confused together)"]] as const) {
      order.appendChild(option(value, label, settings.order === value));
    }
    order.addEventListener("change", () => { settings.order = order.value as Order; this.changed(); });
    const subset = h("input", { type: "search", id: "tbc-subset", placeholder: "e.g. Shirt, T-shirt/top", size: 22, "aria-label": "Show only these classes (comma-separated names or parts of names)" });
    subset.value = settings.subset;
    let subsetTimer: number | null = null;
    subset.addEventListener("input", () => {
      if (subsetTimer !== null) clearTimeout(subsetTimer);
      subsetTimer = window.setTimeout(() => { settings.subset = subset.value; this.changed(); }, SUBSET_DEBOUNCE_MS);
    });
    const topKHelp = "Show only the classes of the k largest off-diagonal cells, both the true and the predicted class of each, so those k confusions are all visible (up to 2k classes; 0 = all)";
    const topK = h("input", { type: "number", id: "tbc-topk", min: 0, step: 1, value: 0, style: "width:5em", "aria-label": topKHelp, title: topKHelp });
    topK.value = String(settings.topK);
    topK.addEventListener("change", () => {
      const k = Math.max(0, Math.floor(Number(topK.value) || 0));
      settings.topK = k;
      topK.value = String(k);
      this.changed();
    });
    return h("fieldset", {}, h("legend", {}, "Classes"), h("label", {}, "Order ", order),
      h("label", {}, "Only ", subset), h("label", { title: topKHelp }, "Top-k confusions ", topK));
  }

  private exportBox(): HTMLElement {
    const csv = h("button", { type: "button", id: "tbc-export-csv" }, "Export CSV");
    const json = h("button", { type: "button", id: "tbc-export-json" }, "Export JSON");
    csv.addEventListener("click", () => this.exportShown("csv"));
    json.addEventListener("click", () => this.exportShown("json"));
    return h("fieldset", {}, h("legend", {}, "Export shown matrix"), csv, json);
  }

  /** A view setting changed: remember it and redraw. */
  private changed(): void {
    this.state.save();
    this.actions.update();
  }

  private buildDiffBar(): void {
    const state = this.state;
    clear(this.diffBar);
    const available = state.runsWithTag();
    if (!available.includes(state.diffRun)) state.diffRun = state.activeRun || available[0] || "";
    if (!available.includes(state.diffRunA)) state.diffRunA = available[0] ?? "";
    if (!available.includes(state.diffRunB)) state.diffRunB = available[1] ?? available[0] ?? "";
    const kind = h("select", { id: "tbc-diff-kind", "aria-label": "Compare" });
    kind.append(option("steps", "Step A vs step B of one run", state.diffKind === "steps"), option("runs", "Run A vs run B at one step", state.diffKind === "runs"),
      option("sets", "Set A vs set B of one run (e.g. train vs test)", state.diffKind === "sets"));
    kind.addEventListener("change", () => {
      state.diffKind = kind.value as DiffKind;
      if (state.diffKind === "sets") this.openSets();
      this.buildDiffBar();
      this.actions.update();
    });
    this.diffBar.append(h("label", {}, "Compare ", kind));
    const runSelect = (id: string, value: string, set: (v: string) => void, label: string) => {
      const s = h("select", { id, "aria-label": label });
      for (const r of available) s.appendChild(option(r, r, r === value));
      s.addEventListener("change", () => { set(s.value); this.buildDiffBar(); this.actions.update(); });
      return h("label", {}, `${label} `, s);
    };
    if (state.diffKind === "sets") {
      this.diffBar.append(runSelect("tbc-diff-run", state.diffRun, (v) => { state.diffRun = v; }, "Run"));
      this.setsBar();
    } else if (state.diffKind === "steps") {
      this.diffBar.append(runSelect("tbc-diff-run", state.diffRun, (v) => { state.diffRun = v; }, "Run"));
      const steps = state.info(state.diffRun)?.steps ?? [];
      if (state.diffStepA === null || !steps.includes(state.diffStepA)) state.diffStepA = steps[0] ?? null;
      const a = h("select", { id: "tbc-diff-step-a", "aria-label": "Step A" });
      for (const s of steps) a.appendChild(option(String(s), String(s), s === state.diffStepA));
      a.addEventListener("change", () => { state.diffStepA = Number(a.value); this.actions.update(); });
      this.diffBar.append(h("label", {}, "Step A ", a), h("span", { class: "muted" }, "Step B = the slider's step. Cells show B − A."));
    } else {
      this.diffBar.append(runSelect("tbc-diff-run-a", state.diffRunA, (v) => { state.diffRunA = v; }, "Run A"),
        runSelect("tbc-diff-run-b", state.diffRunB, (v) => { state.diffRunB = v; }, "Run B"),
        h("span", { class: "muted" }, "Both at the slider's step (nearest available in each run). Cells show B − A."));
    }
  }

  /** Opening the "sets" difference: its sets differ in size (a training
   * subset against the test set), so counts do not compare; it opens
   * normalized by true class (each row's shares), which the user may change. */
  private openSets(): void {
    const settings = this.state.settings;
    if (settings.norm === "counts") {
      settings.norm = "true";
      const radio = this.toolbar?.querySelector<HTMLInputElement>("#tbc-norm-true");
      if (radio) radio.checked = true;
      this.state.save();
    }
  }

  /** The "sets" difference: set A (a tag of the run with the same classes), set B = the tag above. */
  private setsBar(): void {
    const state = this.state;
    const setA = state.setATag(state.diffRun);
    const classes = state.info(state.diffRun)?.num_classes;
    const choices = state.tagsOf(state.diffRun).filter((t) => t.tag !== state.tag && t.classes === classes);
    if (setA === null) {
      this.diffBar.append(h("span", { class: "notice warn", id: "tbc-diff-no-set" }, `Run “${state.diffRun}” has no other matrix tag with the classes of ${state.tag} to compare with (e.g. confusion/train, logged by the training job's --train-eval-size).`));
      return;
    }
    const a = h("select", { id: "tbc-diff-tag-a", "aria-label": "Set A" });
    for (const t of choices) a.appendChild(option(t.tag, t.tag, t.tag === setA));
    a.addEventListener("change", () => { state.diffTagA = a.value; this.actions.update(); });
    this.diffBar.append(h("label", {}, "Set A ", a), h("span", { class: "muted" },
      `Set B = the tag above (${state.tag}). Both at the slider's step. Cells show B − A: orange where B has more.`));
  }

  /** The matrix as shown (details run or difference, shown classes, normalization). */
  private exportView(): ExportView | null {
    const { settings, tag } = this.state;
    const v = this.state.activeView();
    if (!v) return null;
    const n = v.values.n;
    const values = v.shown.map((t) => v.shown.map((p) => (settings.hideDiagonal && t === p ? NaN : v.values.data[t * n + p])));
    return {
      run: v.run, tag, step: v.step, normalization: settings.norm, mode: v.diff ? "difference" : "matrix",
      description: v.diff ? v.label : `${v.run} at step ${v.step}, ${NORM_LABELS[settings.norm]}${settings.hideDiagonal ? ", diagonal hidden" : ""}`,
      classes: v.shown.map((i) => v.names[i]), values,
    };
  }

  private exportShown(kind: ExportKind): void {
    const view = this.exportView();
    if (!view) return;
    const text = kind === "csv" ? toCSV(view) : toJSON(view);
    const blob = new Blob([text], { type: kind === "csv" ? "text/csv" : "application/json" });
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: exportFileName(view, kind) });
    a.style.display = "none";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}
