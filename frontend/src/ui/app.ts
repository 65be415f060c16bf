// The confusion tab: state, data loading and layout. Pure logic lives in
// ../logic; this module only wires it to the DOM.
import { ApiError, getJson, routeUrl, type CellSeries, type ExamplesResponse, type MatrixResponse, type MetricsSeries, type TagInfo, type TagsResponse } from "../api";
import { cssColor, diverging, sequential } from "../logic/colors";
import { exportFileName, toCSV, toJSON, type ExportView } from "../logic/exporter";
import { formatCount, formatMetric, formatShare, NORM_LABELS, NORM_UNITS } from "../logic/format";
import { classMetrics, colourDomain, difference, fromRows, normalize, NORMS, shownClasses, topConfusions, type ClassMetrics, type Matrix, type Norm, type Order } from "../logic/matrix";
import { DEFAULT_SETTINGS, parseSettings, serializeSettings, type Settings } from "../logic/settings";
import { nearestIndex, nearestStep, unionSteps } from "../logic/steps";
import { lineChart, SERIES_COLOURS, sparkline } from "./charts";
import { append, clear, h, option } from "./dom";
import { Heatmap } from "./heatmap";

const STORAGE_KEY = "tb_fmnist_confusion.settings.v1";
const PLAY_INTERVAL_MS = 700;
const TABLE_ROW_LIMIT = 200;
const AUTO_REFRESH_MS = 30_000;

interface LoadedMatrix { step: number; names: string[]; counts: Matrix; wallTime: number }
interface PanelView { run: string; step: number | null; names: string[]; shown: number[]; counts: Matrix; countsA: Matrix | null; values: Matrix; diff: boolean; label: string }
type SortKey = "index" | "name" | "support" | "precision" | "recall" | "f1" | "confused";

interface DebugState {
  ready: boolean;
  draws: number;
  firstDrawMs: number | null;
  sliderRedrawMs: number[];
  state: () => Record<string, unknown>;
  panel: (run: string) => { step: number | null; classes: string[]; values: (number | null)[][]; counts: number[][] } | null;
  refresh: () => Promise<void>;
}

declare global {
  interface Window { __tbConfusion?: DebugState }
}

export class App {
  private settings: Settings;
  private tags: TagsResponse | null = null;
  private tag = "";
  private runs: string[] = [];
  private activeRun = "";
  private steps: number[] = [];
  private targetStep: number | null = null;
  private mode: "matrix" | "difference" = "matrix";
  private diffKind: "steps" | "runs" = "steps";
  private diffRun = "";
  private diffStepA: number | null = null;
  private diffRunA = "";
  private diffRunB = "";
  private selectedCell: { run: string; t: number; p: number } | null = null;
  private selectedClass: number | null = null;
  private hoverCell: { t: number; p: number } | null = null;
  private sort: { key: SortKey; dir: 1 | -1 } = { key: "index", dir: 1 };
  private showAllRows = false;
  private cache = new Map<string, Promise<LoadedMatrix>>();
  private seriesCache = new Map<string, Promise<MetricsSeries>>();
  private cellCache = new Map<string, Promise<CellSeries>>();
  private spriteCache = new Map<string, Promise<HTMLImageElement>>();
  private heatmaps = new Map<string, { hm: Heatmap; run: string; head: HTMLElement; filterNote: HTMLElement; section: HTMLElement }>();
  private views: PanelView[] = [];
  private generation = 0;
  private tagsCalls = 0;
  private playTimer: number | null = null;
  private pendingSliderStart: number | null = null;
  private firstDrawDone = false;
  private hoverTimer: number | null = null;
  private debug: DebugState;

  // persistent elements
  private tagSelect = h("select", { id: "tbc-tag", "aria-label": "Matrix tag" });
  private runBox = h("fieldset", { class: "run-list" }, h("legend", {}, "Runs"));
  private modeButtons: Record<"matrix" | "difference", HTMLButtonElement>;
  private normInputs = new Map<Norm, HTMLInputElement>();
  private hideDiag = h("input", { type: "checkbox", id: "tbc-hide-diagonal" });
  private orderSelect = h("select", { id: "tbc-order", "aria-label": "Class order" });
  private subsetInput = h("input", { type: "search", id: "tbc-subset", placeholder: "e.g. Shirt, T-shirt/top", size: 22, "aria-label": "Show only these classes (comma-separated names or parts of names)" });
  private topKInput = h("input", { type: "number", id: "tbc-topk", min: 0, step: 1, value: 0, style: "width:5em", "aria-label": "Show only the k most confused classes (0 = all)" });
  private playButton = h("button", { type: "button", id: "tbc-play", "aria-pressed": "false" }, "▶ Play");
  private slider = h("input", { type: "range", id: "tbc-step", min: 0, max: 0, step: 1, value: 0, "aria-label": "Step" });
  private stepLabel = h("output", { id: "tbc-step-label", for: "tbc-step" });
  private loading = h("span", { id: "tbc-loading", class: "muted", role: "status", hidden: true });
  private diffBar = h("div", { class: "diffbar", id: "tbc-diffbar", hidden: true });
  private notices = h("div", { id: "tbc-notices", role: "status" });
  private colourBar = h("div", { class: "colourbar", id: "tbc-colourbar" });
  private panels = h("div", { class: "panels", id: "tbc-panels" });
  private details = h("div", { class: "details", id: "tbc-details" });
  private tooltip = h("div", { id: "tbc-tooltip", role: "tooltip", hidden: true });
  private main = h("div", { id: "tbc-main" });
  private state = h("div", { id: "tbc-state" });

  constructor(private root: HTMLElement, private earlyTags: Promise<TagsResponse> | null = null) {
    let stored: string | null = null;
    try { stored = window.localStorage.getItem(STORAGE_KEY); } catch { /* storage blocked */ }
    this.settings = parseSettings(stored);
    this.modeButtons = {
      matrix: h("button", { type: "button", id: "tbc-mode-matrix", "aria-pressed": "true" }, "Matrices"),
      difference: h("button", { type: "button", id: "tbc-mode-diff", "aria-pressed": "false" }, "Difference"),
    };
    this.debug = {
      ready: false, draws: 0, firstDrawMs: null, sliderRedrawMs: [],
      state: () => this.debugState(),
      panel: (run) => this.debugPanel(run),
      refresh: () => this.loadTags(true),
    };
    window.__tbConfusion = this.debug;
    this.buildChrome();
  }

  // ---------------------------------------------------------------- layout

  private buildChrome(): void {
    const reload = h("button", { type: "button", id: "tbc-reload", title: "Fetch the list of runs and steps again" }, "Reload");
    reload.addEventListener("click", () => void this.loadTags());
    const header = h("div", { class: "toolbar" }, h("h1", {}, "Confusion matrices"), reload);

    this.tagSelect.addEventListener("change", () => { this.tag = this.tagSelect.value; this.onTagChanged(); });
    const tagLabel = h("label", {}, "Tag ", this.tagSelect);

    for (const m of ["matrix", "difference"] as const) {
      this.modeButtons[m].addEventListener("click", () => { this.mode = m; this.syncModeUi(); void this.update(); });
    }
    const modeBox = h("fieldset", {}, h("legend", {}, "View"), this.modeButtons.matrix, this.modeButtons.difference);

    const normBox = h("fieldset", { id: "tbc-norm" }, h("legend", {}, "Normalization"));
    for (const norm of NORMS) {
      const input = h("input", { type: "radio", name: "tbc-norm", value: norm, id: `tbc-norm-${norm}` });
      input.checked = this.settings.norm === norm;
      input.addEventListener("change", () => { if (input.checked) { this.settings.norm = norm; this.save(); void this.update(); } });
      this.normInputs.set(norm, input);
      normBox.appendChild(h("label", {}, input, NORM_LABELS[norm]));
    }
    this.hideDiag.checked = this.settings.hideDiagonal;
    this.hideDiag.addEventListener("change", () => { this.settings.hideDiagonal = this.hideDiag.checked; this.save(); void this.update(); });

    for (const [value, label] of [["original", "Original order"], ["error", "Most errors first"], ["alpha", "Alphabetical"]] as const) {
      this.orderSelect.appendChild(option(value, label, this.settings.order === value));
    }
    this.orderSelect.addEventListener("change", () => { this.settings.order = this.orderSelect.value as Order; this.save(); void this.update(); });
    this.subsetInput.value = this.settings.subset;
    let subsetTimer: number | null = null;
    this.subsetInput.addEventListener("input", () => {
      if (subsetTimer !== null) clearTimeout(subsetTimer);
      subsetTimer = window.setTimeout(() => { this.settings.subset = this.subsetInput.value; this.save(); void this.update(); }, 200);
    });
    this.topKInput.value = String(this.settings.topK);
    this.topKInput.addEventListener("change", () => {
      const k = Math.max(0, Math.floor(Number(this.topKInput.value) || 0));
      this.settings.topK = k; this.topKInput.value = String(k); this.save(); void this.update();
    });
    const classBox = h("fieldset", {}, h("legend", {}, "Classes"), h("label", {}, "Order ", this.orderSelect),
      h("label", {}, "Only ", this.subsetInput), h("label", {}, "Top-k confused ", this.topKInput));

    const csv = h("button", { type: "button", id: "tbc-export-csv" }, "Export CSV");
    const json = h("button", { type: "button", id: "tbc-export-json" }, "Export JSON");
    csv.addEventListener("click", () => this.exportShown("csv"));
    json.addEventListener("click", () => this.exportShown("json"));
    const exportBox = h("fieldset", {}, h("legend", {}, "Export shown matrix"), csv, json);

    const controls = h("div", { class: "toolbar" }, tagLabel, modeBox, normBox,
      h("label", {}, this.hideDiag, "Hide diagonal"), classBox, exportBox);

    this.playButton.addEventListener("click", () => this.togglePlay());
    this.slider.addEventListener("input", () => {
      this.pendingSliderStart = performance.now();
      this.targetStep = this.steps[Number(this.slider.value)] ?? null;
      this.settings.step = this.targetStep;
      this.save();
      void this.update();
    });
    const stepbar = h("div", { class: "stepbar" }, this.playButton, this.slider, this.stepLabel, this.loading);

    this.main.append(this.runBox, controls, stepbar, this.diffBar, this.notices, this.colourBar, this.panels, this.details);
    this.root.append(header, this.state, this.main, this.tooltip);
    window.addEventListener("scroll", () => { this.tooltip.hidden = true; }, { passive: true });
    this.main.hidden = true;
  }

  private save(): void {
    this.settings.tag = this.tag || this.settings.tag;
    this.settings.runs = this.runs.length ? this.runs.slice() : this.settings.runs;
    try { window.localStorage.setItem(STORAGE_KEY, serializeSettings(this.settings)); } catch { /* storage blocked */ }
  }

  private showState(kind: "loading" | "empty" | "error", ...content: (Node | string)[]): void {
    clear(this.state);
    this.state.className = kind === "loading" ? "notice info" : kind === "empty" ? "notice info" : "notice error";
    this.state.dataset.state = kind;
    append(this.state, ...content);
    this.state.hidden = false;
    this.main.hidden = kind !== "loading" || !this.tags;
  }

  private hideState(): void {
    this.state.hidden = true;
    this.state.dataset.state = "ok";
    this.main.hidden = false;
  }

  // ---------------------------------------------------------------- data

  onThemeChange(): void {
    if (this.views.length) this.draw(this.views, []);
  }

  async start(): Promise<void> {
    await this.loadTags();
    this.startAutoRefresh();
  }

  /** Every 30 s (like TensorBoard's own auto-reload) pick up new runs and steps. */
  private startAutoRefresh(): void {
    window.setInterval(() => {
      if (this.tags && !document.hidden && this.playTimer === null) void this.loadTags(true);
    }, AUTO_REFRESH_MS);
  }

  private async loadTags(silent = false): Promise<void> {
    if (!this.tags) this.showState("loading", "Loading runs…");
    const call = ++this.tagsCalls;
    let tags: TagsResponse;
    const early = this.earlyTags;
    try {
      this.earlyTags = null;
      tags = await (early ?? getJson<TagsResponse>("tags"));
      if (!this.firstDrawDone) performance.mark("tbc-tags-loaded");
    } catch (e) {
      if (!silent && call === this.tagsCalls) this.serverError(e, "the list of runs");
      return;
    }
    if (call !== this.tagsCalls) return; // a newer listing is on its way
    if (silent && JSON.stringify(tags) === JSON.stringify(this.tags)) return;
    if (!silent) this.cache.clear();
    this.seriesCache.clear();
    this.seriesResolved.clear();
    this.cellCache.clear();
    // at the last step: follow new steps as they arrive
    if (silent && this.targetStep !== null && this.targetStep === this.steps[this.steps.length - 1]) { this.targetStep = null; this.settings.step = null; }
    // only the first listing asks for the last matrices (a Reload fetches them anew)
    const latest = early && tags && tags.latest && typeof tags.latest === "object" ? tags.latest : null;
    this.tags = tags && tags.runs && typeof tags.runs === "object" ? { runs: tags.runs } : { runs: {} };
    if (latest) this.seedLatest(latest);
    const allTags = this.allTags();
    if (allTags.length === 0) {
      this.emptyState();
      return;
    }
    this.hideState();
    clear(this.tagSelect);
    const wantTag = this.tag || this.settings.tag;
    // default: the tag logged by the most runs
    const byRuns = allTags.slice().sort((a, b) => this.runCount(b) - this.runCount(a) || (a < b ? -1 : a > b ? 1 : 0));
    this.tag = wantTag && allTags.includes(wantTag) ? wantTag : byRuns[0];
    for (const t of allTags) this.tagSelect.appendChild(option(t, t, t === this.tag));
    this.onTagChanged(true);
  }

  private allTags(): string[] {
    const set = new Set<string>();
    for (const run of Object.keys(this.tags?.runs ?? {})) for (const t of Object.keys(this.tags!.runs[run] ?? {})) set.add(t);
    return Array.from(set).sort();
  }

  private runCount(tag: string): number {
    return Object.keys(this.tags?.runs ?? {}).filter((r) => this.tags!.runs[r] && this.tags!.runs[r][tag]).length;
  }

  private runsWithTag(): string[] {
    return Object.keys(this.tags?.runs ?? {}).filter((r) => this.tags!.runs[r] && this.tags!.runs[r][this.tag]).sort();
  }

  private info(run: string): TagInfo | null {
    return this.tags?.runs?.[run]?.[this.tag] ?? null;
  }

  private onTagChanged(fromLoad = false): void {
    const available = this.runsWithTag();
    const wanted = (this.runs.length ? this.runs : this.settings.runs ?? []).filter((r) => available.includes(r));
    this.runs = wanted.length ? wanted : available.slice(0, 4);
    if (!this.runs.includes(this.activeRun)) this.activeRun = this.runs[0] ?? "";
    this.buildRunBox(available);
    this.recomputeSteps(fromLoad);
    this.syncModeUi();
    this.save();
    void this.update();
  }

  private buildRunBox(available: string[]): void {
    clear(this.runBox);
    this.runBox.appendChild(h("legend", {}, `Runs with this tag (${available.length})`));
    for (const run of available) {
      const box = h("input", { type: "checkbox", value: run });
      box.checked = this.runs.includes(run);
      box.addEventListener("change", () => {
        if (box.checked && !this.runs.includes(run)) this.runs.push(run);
        if (!box.checked) this.runs = this.runs.filter((r) => r !== run);
        this.runs.sort();
        if (!this.runs.includes(this.activeRun)) this.activeRun = this.runs[0] ?? "";
        this.recomputeSteps(false);
        this.save();
        void this.update();
      });
      this.runBox.appendChild(h("label", { title: run }, box, run));
    }
  }

  private recomputeSteps(fromLoad: boolean): void {
    const lists = this.runs.map((r) => this.info(r)?.steps ?? []);
    this.steps = unionSteps(lists);
    const wanted = this.targetStep ?? this.settings.step;
    clear(this.notices);
    if (this.steps.length === 0) {
      this.targetStep = null;
    } else if (wanted === null) {
      this.targetStep = this.steps[this.steps.length - 1];
    } else if (!this.steps.includes(wanted)) {
      const near = nearestStep(this.steps, wanted)!;
      if (fromLoad) {
        this.notice("warn", `Step ${wanted} no longer exists in the selected runs (TensorBoard may have dropped it by sampling, or the run was rewritten). Showing the nearest step, ${near}.`);
      }
      this.targetStep = near;
    } else {
      this.targetStep = wanted;
    }
    this.slider.max = String(Math.max(0, this.steps.length - 1));
    this.slider.value = String(this.targetStep === null ? 0 : nearestIndex(this.steps, this.targetStep));
    this.slider.disabled = this.steps.length < 2;
    this.playButton.disabled = this.steps.length < 2;
    for (const run of this.runs) {
      const info = this.info(run);
      if (info && info.possibly_sampled) {
        this.notice("warn", `Run “${run}”: TensorBoard kept only ${info.samples_limit ?? "a sample of"} steps of this tag, so some logged steps may be missing. Restart TensorBoard with --samples_per_plugin=tb_fmnist_confusion=0 (0 keeps every step) to see every step.`, "sampled");
      }
    }
    if (this.diffStepA === null || !this.steps.includes(this.diffStepA)) this.diffStepA = this.steps[0] ?? null;
  }

  private notice(kind: "warn" | "error" | "info", text: string, tag = "", action?: { label: string; run: () => void }): void {
    const el = h("div", { class: `notice ${kind}`, "data-notice": tag || kind }, text);
    if (action) {
      const b = h("button", { type: "button" }, action.label);
      b.addEventListener("click", action.run);
      el.appendChild(b);
    }
    this.notices.appendChild(el);
  }

  private serverError(e: unknown, what: string): void {
    const err = e instanceof ApiError ? e : new ApiError(0, String(e), "?");
    const retry = h("button", { type: "button", id: "tbc-retry" }, "Retry");
    retry.addEventListener("click", () => void this.loadTags());
    const hint = err.status === 0
      ? "TensorBoard did not answer. Check that the tensorboard command is still running, then retry."
      : err.status >= 500
        ? "The plugin failed on the server. The terminal running tensorboard shows the cause; fix it (or restart TensorBoard), then retry."
        : "TensorBoard rejected the request. Reload to refresh the list of runs.";
    this.showState("error", h("strong", {}, `Could not load ${what}`), ` (${err.status ? "HTTP " + err.status : "no connection"}: ${err.message}). `, hint, " ", retry);
  }

  private emptyState(): void {
    this.showState("empty",
      h("strong", {}, "No confusion matrices in this log directory yet."),
      h("p", {}, "Log them from your evaluation loop with the hooks:"),
      h("pre", { class: "code" }, "monitor = attach_hooks(model, writer, class_names=class_names)\n"
        + "monitor.record(outputs, labels, images)   # for each evaluation batch\n"
        + "monitor.end_eval(step=epoch)               # writes the matrix and cell examples"),
      h("p", {}, "or write a matrix yourself:"),
      h("pre", { class: "code" }, "from tb_fmnist_plugin import summary\n"
        + "summary.write_confusion_matrix(writer, \"confusion/test\", matrix, step)"),
      h("p", { class: "muted" }, "Then press Reload (TensorBoard reads new event files every few seconds)."),
    );
    const reload = h("button", { type: "button", id: "tbc-retry" }, "Reload");
    reload.addEventListener("click", () => void this.loadTags());
    this.state.appendChild(reload);
  }

  private matrix(run: string, step: number): Promise<LoadedMatrix> {
    const key = `${run}\u0000${this.tag}\u0000${step}`;
    let p = this.cache.get(key);
    if (!p) {
      p = getJson<MatrixResponse>("matrix", { run, tag: this.tag, step }).then((r) => ({
        step: r.step, names: r.class_names.map(String), counts: fromRows(r.matrix), wallTime: r.wall_time,
      }));
      p.catch(() => this.cache.delete(key));
      this.cache.set(key, p);
      this.trimCache();
    }
    return p;
  }

  /** Put the last-step matrices that came with the run list into the matrix cache. */
  private seedLatest(latest: Record<string, Record<string, number[][]>>): void {
    for (const run of Object.keys(latest)) {
      const byTag = latest[run];
      if (!byTag || typeof byTag !== "object") continue;
      for (const tag of Object.keys(byTag)) {
        const info = this.tags?.runs?.[run]?.[tag];
        const rows = byTag[tag];
        if (!info || !Array.isArray(rows) || info.steps.length === 0) continue;
        const last = info.steps.length - 1;
        let loaded: LoadedMatrix;
        try {
          loaded = { step: info.steps[last], names: info.class_names.map(String), counts: fromRows(rows), wallTime: info.wall_times[last] };
        } catch {
          continue; // malformed: the matrix route is asked instead
        }
        this.cache.set(`${run}\u0000${tag}\u0000${loaded.step}`, Promise.resolve(loaded));
      }
    }
    this.trimCache();
  }

  private trimCache(): void {
    // about 6 million cells (48 MB of Float64) at most: 6 steps of a 1,000-class matrix
    const n = Math.max(1, ...this.runs.map((r) => this.info(r)?.num_classes ?? 1));
    const limit = Math.max(4, Math.min(2000, Math.floor(6e6 / (n * n))));
    while (this.cache.size > limit) {
      const first = this.cache.keys().next().value as string;
      this.cache.delete(first);
    }
  }

  private metricsSeries(run: string): Promise<MetricsSeries> {
    const key = `${run}\u0000${this.tag}`;
    let p = this.seriesCache.get(key);
    if (!p) {
      p = getJson<MetricsSeries>("metrics_series", { run, tag: this.tag });
      p.catch(() => this.seriesCache.delete(key));
      this.seriesCache.set(key, p);
    }
    return p;
  }

  private cellSeries(run: string, t: number, p: number): Promise<CellSeries> {
    const key = `${run}\u0000${this.tag}\u0000${t}\u0000${p}`;
    let q = this.cellCache.get(key);
    if (!q) {
      q = getJson<CellSeries>("cell_series", { run, tag: this.tag, true: t, predicted: p });
      q.catch(() => this.cellCache.delete(key));
      this.cellCache.set(key, q);
    }
    return q;
  }

  private prefetchAll(): void {
    // Small matrices: fetch every step in the background so the slider and
    // play redraw without waiting for the network.
    const runs = this.runs.slice();
    const tag = this.tag;
    const small = runs.every((r) => (this.info(r)?.num_classes ?? 0) <= 100 && (this.info(r)?.steps.length ?? 0) <= 500);
    if (!small) return;
    const queue: [string, number][] = [];
    for (const r of runs) for (const s of this.info(r)?.steps ?? []) queue.push([r, s]);
    const next = () => {
      if (tag !== this.tag) return;
      const item = queue.shift();
      if (!item) return;
      this.matrix(item[0], item[1]).then(next, next);
    };
    next();
    next();
  }

  private prefetchNeighbours(): void {
    // Large matrices are not all fetched up front: fetch the steps next to the
    // shown one, so the next slider move or play tick finds them cached.
    if (this.targetStep === null) return;
    const i = this.steps.indexOf(this.targetStep);
    for (const j of [i + 1, i - 1]) {
      const target = this.steps[j];
      if (target === undefined) continue;
      for (const run of this.runs) {
        const step = nearestStep(this.info(run)?.steps ?? [], target);
        if (step !== null) this.matrix(run, step).catch(() => undefined);
      }
    }
  }

  // ---------------------------------------------------------------- modes

  private syncModeUi(): void {
    this.modeButtons.matrix.setAttribute("aria-pressed", String(this.mode === "matrix"));
    this.modeButtons.difference.setAttribute("aria-pressed", String(this.mode === "difference"));
    this.diffBar.hidden = this.mode !== "difference";
    if (this.mode === "difference") this.buildDiffBar();
  }

  private buildDiffBar(): void {
    clear(this.diffBar);
    const available = this.runsWithTag();
    if (!available.includes(this.diffRun)) this.diffRun = this.activeRun || available[0] || "";
    if (!available.includes(this.diffRunA)) this.diffRunA = available[0] ?? "";
    if (!available.includes(this.diffRunB)) this.diffRunB = available[1] ?? available[0] ?? "";
    const kind = h("select", { id: "tbc-diff-kind", "aria-label": "Compare" });
    kind.append(option("steps", "Step A vs step B of one run", this.diffKind === "steps"), option("runs", "Run A vs run B at one step", this.diffKind === "runs"));
    kind.addEventListener("change", () => { this.diffKind = kind.value as "steps" | "runs"; this.buildDiffBar(); void this.update(); });
    this.diffBar.append(h("label", {}, "Compare ", kind));
    const runSelect = (id: string, value: string, set: (v: string) => void, label: string) => {
      const s = h("select", { id, "aria-label": label });
      for (const r of available) s.appendChild(option(r, r, r === value));
      s.addEventListener("change", () => { set(s.value); this.buildDiffBar(); void this.update(); });
      return h("label", {}, `${label} `, s);
    };
    if (this.diffKind === "steps") {
      this.diffBar.append(runSelect("tbc-diff-run", this.diffRun, (v) => { this.diffRun = v; }, "Run"));
      const steps = this.info(this.diffRun)?.steps ?? [];
      if (this.diffStepA === null || !steps.includes(this.diffStepA)) this.diffStepA = steps[0] ?? null;
      const a = h("select", { id: "tbc-diff-step-a", "aria-label": "Step A" });
      for (const s of steps) a.appendChild(option(String(s), String(s), s === this.diffStepA));
      a.addEventListener("change", () => { this.diffStepA = Number(a.value); void this.update(); });
      this.diffBar.append(h("label", {}, "Step A ", a), h("span", { class: "muted" }, "Step B = the slider's step. Cells show B − A."));
    } else {
      this.diffBar.append(runSelect("tbc-diff-run-a", this.diffRunA, (v) => { this.diffRunA = v; }, "Run A"),
        runSelect("tbc-diff-run-b", this.diffRunB, (v) => { this.diffRunB = v; }, "Run B"),
        h("span", { class: "muted" }, "Both at the slider's step (nearest available in each run). Cells show B − A."));
    }
  }

  // ---------------------------------------------------------------- drawing

  private async update(): Promise<void> {
    const gen = ++this.generation;
    const target = this.targetStep;
    this.stepLabel.textContent = target === null ? "no steps" : `step ${target}`;
    this.slider.setAttribute("aria-valuetext", target === null ? "no steps" : `step ${target}`);
    if (!this.tags || !this.tag) return;
    let views: PanelView[] = [];
    const errors: { run: string; error: unknown; step: number | null }[] = [];
    const slow = window.setTimeout(() => {
      if (gen !== this.generation) return;
      this.panels.setAttribute("aria-busy", "true");
      this.loading.textContent = target === null ? "Loading…" : `Loading step ${target}…`;
      this.loading.hidden = false;
    }, 150);
    try {
      if (this.mode === "matrix") {
        const results = await Promise.all(this.runs.map(async (run) => {
          const step = target === null ? null : nearestStep(this.info(run)?.steps ?? [], target);
          if (step === null) return null;
          try {
            const m = await this.matrix(run, step);
            if (!this.firstDrawDone) performance.mark("tbc-matrix-loaded");
            return this.makeView(run, m, null, m.step);
          } catch (e) {
            errors.push({ run, error: e, step });
            return null;
          }
        }));
        views = results.filter((v): v is PanelView => v !== null);
      } else {
        const v = await this.diffView(errors);
        if (v) views = [v];
      }
    } finally {
      clearTimeout(slow);
    }
    if (gen !== this.generation) return;
    this.panels.removeAttribute("aria-busy");
    this.loading.hidden = true;
    this.draw(views, errors);
  }

  private async diffView(errors: { run: string; error: unknown; step: number | null }[]): Promise<PanelView | null> {
    const target = this.targetStep;
    let runA: string, runB: string, stepA: number | null, stepB: number | null;
    if (this.diffKind === "steps") {
      runA = runB = this.diffRun;
      const steps = this.info(this.diffRun)?.steps ?? [];
      stepA = this.diffStepA;
      stepB = target === null ? null : nearestStep(steps, target);
    } else {
      runA = this.diffRunA; runB = this.diffRunB;
      stepA = target === null ? null : nearestStep(this.info(runA)?.steps ?? [], target);
      stepB = target === null ? null : nearestStep(this.info(runB)?.steps ?? [], target);
    }
    if (!runA || !runB || stepA === null || stepB === null) return null;
    let a: LoadedMatrix, b: LoadedMatrix;
    try {
      [a, b] = await Promise.all([this.matrix(runA, stepA), this.matrix(runB, stepB)]);
    } catch (e) {
      errors.push({ run: `${runA} / ${runB}`, error: e, step: null });
      return null;
    }
    if (a.counts.n !== b.counts.n) {
      errors.push({ run: `${runA} / ${runB}`, error: new Error(`run A has ${a.counts.n} classes and run B ${b.counts.n}; only matrices of the same classes can be compared`), step: null });
      return null;
    }
    const label = this.diffKind === "steps" ? `${runA}: step ${stepB} − step ${stepA}` : `${runB} − ${runA} at step ${stepB}${stepA !== stepB ? ` (A at ${stepA})` : ""}`;
    const view = this.makeView(runB, b, a, stepB);
    view.label = `Difference ${label}`;
    return view;
  }

  private makeView(run: string, m: LoadedMatrix, a: LoadedMatrix | null, step: number): PanelView {
    const norm = this.settings.norm;
    const values = a ? difference(normalize(a.counts, norm), normalize(m.counts, norm)) : normalize(m.counts, norm);
    const shown = shownClasses(m.counts, m.names, this.settings.order, this.settings.subset, this.settings.topK);
    return { run, step, names: m.names, shown, counts: m.counts, countsA: a ? a.counts : null, values, diff: !!a, label: run };
  }

  private draw(views: PanelView[], errors: { run: string; error: unknown; step: number | null }[]): void {
    this.views = views;
    // notices for failed panels (kept apart from the step/sampling notices)
    this.notices.querySelectorAll("[data-notice=panel-error]").forEach((n) => n.remove());
    for (const { run, error, step } of errors) {
      const err = error instanceof ApiError ? error : null;
      if (err && err.status === 404 && step !== null) {
        this.notice("error", `Step ${step} of run “${run}” no longer exists on the server (its data changed since the list was loaded).`, "panel-error",
          { label: "Reload the list of steps", run: () => void this.loadTags() });
      } else {
        this.notice("error", `Could not load run “${run}”: ${err ? `HTTP ${err.status}: ${err.message}` : (error as Error).message}. Check the terminal running tensorboard.`, "panel-error",
          { label: "Retry", run: () => { this.cache.clear(); void this.update(); } });
      }
    }
    // domain shared by all panels so colours compare across runs
    let domain = 0;
    for (const v of views) domain = Math.max(domain, colourDomain(v.values, v.shown, this.settings.hideDiagonal));
    this.drawColourBar(domain, views.some((v) => v.diff));

    const seen = new Set<string>();
    const sections: HTMLElement[] = [];
    if (views.length === 0 && errors.length === 0) {
      sections.push(h("div", { class: "notice info" }, this.mode === "difference"
        ? "Choose what to compare above (difference mode needs a run with at least one step)."
        : "Select at least one run above."));
    }
    for (const v of views) {
      const key = v.diff ? "\u0000diff" : v.run;
      seen.add(key);
      let entry = this.heatmaps.get(key);
      if (!entry) {
        const hm: Heatmap = new Heatmap({
          select: (t, p) => this.selectCell(entry!.run, t, p),
          hover: (t, p, anchor, lines) => this.onHover(entry!.run, t, p, anchor, lines),
        });
        const head = h("div", { class: "panel-head" });
        const filterNote = h("div", { class: "notice info", hidden: true }, "No class matches the class filter. Clear “Only” or the top-k box.");
        entry = { hm, run: v.run, head, filterNote, section: h("section", { class: "panel" }, head, hm.el, filterNote) };
        this.heatmaps.set(key, entry);
      }
      entry.run = v.run;
      const isActive = v.run === this.activeRun;
      const target = this.targetStep;
      const note = v.diff ? "" : v.step !== null && target !== null && v.step !== target ? `step ${v.step} (nearest to ${target}; this run has no step ${target})` : `step ${v.step}`;
      const section = entry.section;
      section.className = `panel${isActive ? " active" : ""}`;
      section.dataset.run = v.run;
      section.dataset.step = v.step === null ? "" : String(v.step);
      section.setAttribute("aria-label", v.diff ? v.label : `Run ${v.run}, ${note}`);
      clear(entry.head);
      entry.head.append(h("h3", {}, v.diff ? v.label : v.run), h("span", { class: "step-note" }, note));
      if (!v.diff && this.runs.length > 1) {
        const b = h("button", { type: "button", class: "details-btn", "aria-pressed": String(isActive) }, isActive ? "Details shown below" : "Show details");
        b.addEventListener("click", () => { this.activeRun = v.run; this.draw(this.views, []); });
        entry.head.appendChild(b);
      }
      entry.hm.update({
        names: v.names, shown: v.shown, counts: v.counts, countsA: v.countsA, values: v.values, norm: this.settings.norm,
        diff: v.diff, hideDiagonal: this.settings.hideDiagonal, domain, label: v.diff ? v.label : `Run ${v.run}`,
        selected: this.selectedCell && (v.diff || this.selectedCell.run === v.run) ? [this.selectedCell.t, this.selectedCell.p] : null,
      });
      entry.filterNote.hidden = v.shown.length > 0;
      sections.push(section);
    }
    const current = Array.from(this.panels.children);
    if (current.length !== sections.length || current.some((c, i) => c !== sections[i])) {
      clear(this.panels);
      for (const sct of sections) this.panels.appendChild(sct);
    }
    for (const key of Array.from(this.heatmaps.keys())) if (!seen.has(key)) this.heatmaps.delete(key);
    if (this.firstDrawDone) {
      this.drawDetails();
    } else {
      // first paint: the matrices first, the details right after
      setTimeout(() => this.drawDetails(), 0);
    }
    this.markDrawn();
  }

  private markDrawn(): void {
    this.debug.draws++;
    this.debug.ready = true;
    this.panels.dataset.draws = String(this.debug.draws);
    const sliderStart = this.pendingSliderStart;
    this.pendingSliderStart = null;
    if (!this.firstDrawDone && this.views.length > 0) performance.mark("tbc-first-dom");
    requestAnimationFrame(() => {
      const now = performance.now();
      if (!this.firstDrawDone && this.views.length > 0) {
        this.firstDrawDone = true;
        performance.mark("tbc-first-draw");
        this.debug.firstDrawMs = now;
        this.prefetchAll();
      }
      if (sliderStart !== null) {
        performance.measure("tbc-slider-redraw", { start: sliderStart, end: now });
        this.debug.sliderRedrawMs.push(now - sliderStart);
      }
      this.prefetchNeighbours();
    });
  }

  private drawColourBar(domain: number, diff: boolean): void {
    clear(this.colourBar);
    const canvas = h("canvas", { width: 200, height: 12, "aria-hidden": "true" });
    const ctx = canvas.getContext("2d");
    if (ctx) {
      for (let x = 0; x < 200; x++) {
        ctx.fillStyle = cssColor(diff ? diverging((x / 199) * 2 - 1) : sequential(x / 199));
        ctx.fillRect(x, 0, 1, 12);
      }
    }
    const norm = this.settings.norm;
    const fmt = (v: number) => norm === "counts" ? formatCount(v) : `${(v * 100).toFixed(1)}%`;
    const lo = diff ? `−${fmt(domain)}` : fmt(0);
    const hi = diff ? `+${fmt(domain)}` : fmt(domain);
    const what = diff ? `B − A in ${NORM_UNITS[norm]} (blue: fewer in B, orange: more in B)` : `${NORM_UNITS[norm]}${this.settings.hideDiagonal ? ", diagonal hidden" : ""}`;
    this.colourBar.append(h("span", {}, lo), canvas, h("span", {}, hi), h("span", {}, `Colour: ${what}. Cells show ${norm === "counts" ? "counts" : "percentages"}.`));
  }

  // ---------------------------------------------------------------- details

  private activeView(): PanelView | null {
    if (this.mode === "difference") return this.views[0] ?? null;
    return this.views.find((v) => v.run === this.activeRun) ?? this.views[0] ?? null;
  }

  private drawDetails(): void {
    clear(this.details);
    const v = this.activeView();
    if (!v) return;
    const { classes, accuracy, total } = classMetrics(v.counts, v.names);
    const where = v.diff ? v.label : `${v.run} at step ${v.step}`;
    this.details.append(this.topCard(v, where), this.tableCard(v, classes, accuracy, total, where), this.examplesCard(v), this.trendCard(v));
  }

  private topCard(v: PanelView, where: string): HTMLElement {
    const card = h("section", { class: "card", id: "tbc-top", "aria-label": "Top confusions" });
    const n = h("select", { "aria-label": "How many confusions" });
    for (const k of [5, 10, 20, 50]) n.appendChild(option(String(k), String(k), k === this.settings.topN));
    n.addEventListener("change", () => { this.settings.topN = Number(n.value); this.save(); this.drawDetails(); });
    card.appendChild(h("h2", {}, "Top ", n, " confusions"));
    card.appendChild(h("div", { class: "hint" }, `${where}${v.diff ? " (counts of B)" : ""}. Click one to see its examples.`));
    const top = topConfusions(v.counts, this.settings.topN);
    if (top.length === 0) {
      card.appendChild(h("p", { class: "muted" }, "No off-diagonal cells: every example is classified correctly."));
      return card;
    }
    const list = h("ol", { class: "confusions" });
    for (const c of top) {
      const b = h("button", { type: "button", "data-true-index": c.true, "data-pred-index": c.predicted },
        `${v.names[c.true]} → ${v.names[c.predicted]}: ${formatCount(c.count)}`);
      b.appendChild(h("span", { class: "muted" }, ` (${formatShare(c.rowShare)} of ${v.names[c.true]})`));
      b.addEventListener("click", () => { this.selectCell(v.run, c.true, c.predicted); this.heatmaps.get(v.diff ? "\u0000diff" : v.run)?.hm.focusCell(c.true, c.predicted); });
      list.appendChild(h("li", {}, b));
    }
    card.appendChild(list);
    return card;
  }

  private tableCard(v: PanelView, classes: ClassMetrics[], accuracy: number | null, total: number, where: string): HTMLElement {
    const card = h("section", { class: "card", id: "tbc-classes", "aria-label": "Per-class metrics" });
    card.appendChild(h("h2", {}, "Per-class metrics"));
    card.appendChild(h("div", { class: "hint" }, `${where}${v.diff ? " (B)" : ""}: accuracy ${formatShare(accuracy)} of ${formatCount(total)} examples. Click a header to sort, a class for its trend.`));
    const shownSet = new Set(v.shown);
    let rows = classes.filter((c) => shownSet.has(c.index));
    const orderPos = new Map(v.shown.map((c, i) => [c, i]));
    const key = this.sort.key, dir = this.sort.dir;
    const val = (c: ClassMetrics): number | string | null => {
      switch (key) {
        case "index": return orderPos.get(c.index) ?? c.index;
        case "name": return c.name.toLocaleLowerCase();
        case "support": return c.support;
        case "precision": return c.precision;
        case "recall": return c.recall;
        case "f1": return c.f1;
        case "confused": return c.mostConfusedCount;
      }
    };
    rows = rows.slice().sort((a, b) => {
      const x = val(a), y = val(b);
      if (x === null && y === null) return a.index - b.index;
      if (x === null) return 1; // undefined values last in both directions
      if (y === null) return -1;
      return (x < y ? -1 : x > y ? 1 : 0) * dir || a.index - b.index;
    });
    const series = this.seriesSync(v.run);
    const headers: [SortKey, string][] = [["name", "Class"], ["support", "Support"], ["precision", "Precision"], ["recall", "Recall"], ["f1", "F1"], ["confused", "Confused with"]];
    const thead = h("tr", {});
    for (const [k, label] of headers) {
      const b = h("button", { type: "button", "data-sort": k }, label + (key === k ? (dir === 1 ? " ▲" : " ▼") : ""));
      b.addEventListener("click", () => {
        this.sort = { key: k, dir: this.sort.key === k ? (-this.sort.dir as 1 | -1) : k === "name" ? 1 : -1 };
        this.drawDetails();
      });
      thead.appendChild(h("th", { scope: "col", "aria-sort": key === k ? (dir === 1 ? "ascending" : "descending") : "none" }, b));
    }
    thead.appendChild(h("th", { scope: "col" }, "Recall trend"));
    const tbody = h("tbody", {});
    const limit = this.showAllRows ? rows.length : Math.min(rows.length, TABLE_ROW_LIMIT);
    for (const c of rows.slice(0, limit)) {
      const nameBtn = h("button", { type: "button", class: "linklike", title: `Trend of ${c.name}` }, c.name);
      nameBtn.addEventListener("click", () => { this.selectedClass = c.index; this.drawDetails(); });
      const confused = c.mostConfusedWith === null ? "–" : `${v.names[c.mostConfusedWith]} (${formatCount(c.mostConfusedCount)})`;
      const trend = h("td", {});
      if (series && series.steps.length > 1) {
        trend.appendChild(sparkline(series.recall.map((r) => (r ? r[c.index] ?? null : null)), SERIES_COLOURS[0], `Recall of ${c.name} over ${series.steps.length} steps`));
      }
      tbody.appendChild(h("tr", { class: this.selectedClass === c.index ? "selected" : "", "data-class-index": c.index },
        h("td", {}, nameBtn), h("td", {}, formatCount(c.support)), h("td", {}, formatMetric(c.precision)), h("td", {}, formatMetric(c.recall)),
        h("td", {}, formatMetric(c.f1)), h("td", { class: "confused" }, confused), trend));
    }
    const table = h("table", { class: "classes" }, h("thead", {}, thead), tbody);
    card.appendChild(h("div", { class: "table-wrap" }, table));
    if (limit < rows.length) {
      const more = h("button", { type: "button" }, `Show all ${rows.length} classes`);
      more.addEventListener("click", () => { this.showAllRows = true; this.drawDetails(); });
      card.appendChild(more);
    }
    return card;
  }

  private seriesResolved = new Map<string, MetricsSeries>();
  private seriesSync(run: string): MetricsSeries | null {
    const key = `${run}\u0000${this.tag}`;
    const got = this.seriesResolved.get(key);
    if (got) return got;
    this.metricsSeries(run).then((s) => {
      this.seriesResolved.set(key, s);
      if (this.activeView()?.run === run) this.drawDetails();
    }, () => { /* shown in the trend card */ });
    return null;
  }

  private examplesCard(v: PanelView): HTMLElement {
    const card = h("section", { class: "card", id: "tbc-examples", "aria-label": "Examples of the selected cell", "aria-live": "polite" });
    card.appendChild(h("h2", {}, "Examples"));
    const sel = this.selectedCell;
    if (!sel || (sel.run !== v.run && !v.diff)) {
      card.appendChild(h("p", { class: "muted" }, "Click a cell (or press Enter on it) or a top confusion to see its example images."));
      return card;
    }
    const info = this.info(v.run);
    const step = v.step;
    const exSteps = info?.examples_steps ?? [];
    card.appendChild(h("div", { class: "hint", id: "tbc-examples-title" }, `True ${v.names[sel.t]} → predicted ${v.names[sel.p]}, run ${v.run}`));
    if (step === null || exSteps.length === 0) {
      card.appendChild(h("p", { class: "muted" }, "This run logged no example images. monitor.record(outputs, labels, images) with images, or summary.write_cell_examples(...), stores them."));
      return card;
    }
    const exStep = exSteps.includes(step) ? step : nearestStep(exSteps, step)!;
    if (exStep !== step) card.appendChild(h("p", { class: "notice warn" }, `No examples were logged at step ${step}; showing step ${exStep}, the nearest step with examples.`));
    const body = h("div", { class: "thumbs", "data-step": exStep }, h("span", { class: "muted" }, "Loading examples…"));
    card.appendChild(body);
    const run = v.run;
    getJson<ExamplesResponse>("examples", { run, tag: this.tag, step: exStep, true: sel.t, predicted: sel.p }).then(async (ex) => {
      clear(body);
      if (ex.examples.length === 0) {
        body.appendChild(h("p", { class: "muted", "data-empty": "true" }, `No examples of this cell at step ${exStep} (the cell is empty, or the byte budget of the examples summary dropped them).`));
        return;
      }
      const spriteUrl = new URL(ex.sprite, routeUrl("examples")).href; // relative to the examples route (docs/http_api.md)
      let img: HTMLImageElement;
      try { img = await this.sprite(spriteUrl); } catch {
        body.appendChild(h("p", { class: "notice error" }, "The sprite image of this step could not be loaded."));
        return;
      }
      for (const e of ex.examples) {
        const c = h("canvas", { width: ex.tile_width, height: ex.tile_height, role: "img", "aria-label": `Example ${e.dataset_index >= 0 ? "#" + e.dataset_index : ""} predicted ${v.names[sel.p]} with confidence ${e.confidence.toFixed(2)}` });
        const ctx = c.getContext("2d");
        if (ctx) ctx.drawImage(img, e.x, e.y, ex.tile_width, ex.tile_height, 0, 0, ex.tile_width, ex.tile_height);
        body.appendChild(h("div", { class: "thumb", "data-confidence": e.confidence, "data-dataset-index": e.dataset_index, title: e.dataset_index >= 0 ? `dataset index ${e.dataset_index}` : "" },
          c, `conf ${e.confidence.toFixed(2)}`, e.dataset_index >= 0 ? h("span", { class: "muted" }, `#${e.dataset_index}`) : null));
      }
    }, (e) => {
      clear(body);
      const err = e instanceof ApiError ? e : null;
      body.appendChild(h("p", { class: "notice error" }, err && err.status === 404
        ? `No examples at step ${exStep} any more (${err.message}). Press Reload.`
        : `Could not load examples: ${err ? `HTTP ${err.status}: ${err.message}` : String(e)}`));
    });
    return card;
  }

  private sprite(url: string): Promise<HTMLImageElement> {
    let p = this.spriteCache.get(url);
    if (!p) {
      p = new Promise((resolve, reject) => {
        const img = new Image();
        img.onload = () => resolve(img);
        img.onerror = () => reject(new Error("sprite failed to load"));
        img.src = url;
      });
      p.catch(() => this.spriteCache.delete(url));
      this.spriteCache.set(url, p);
    }
    return p;
  }

  private trendCard(v: PanelView): HTMLElement {
    const card = h("section", { class: "card", id: "tbc-trends", "aria-label": "Trends over steps" });
    card.appendChild(h("h2", {}, "Trends over steps"));
    const series = this.seriesSync(v.run);
    const classBox = h("div", { id: "tbc-class-trend" });
    const cellBox = h("div", { id: "tbc-cell-trend" });
    card.append(classBox, cellBox);
    if (!series) {
      classBox.appendChild(h("p", { class: "muted" }, "Loading per-class series…"));
    } else {
      let cls = this.selectedClass;
      if (cls === null || cls >= series.class_names.length) {
        // default: the class with the lowest recall at the shown step
        const m = classMetrics(v.counts, v.names).classes.filter((c) => c.recall !== null);
        m.sort((a, b) => (a.recall as number) - (b.recall as number));
        cls = m.length ? m[0].index : 0;
      }
      const pick = (arr: (number | null)[][]) => arr.map((row) => (row ? row[cls!] ?? null : null));
      classBox.appendChild(lineChart({
        title: `${series.class_names[cls] ?? cls}: precision, recall, F1 (run ${v.run})`,
        steps: series.steps, marker: v.step, yMax: 1,
        series: [
          { name: "recall", values: pick(series.recall), colour: SERIES_COLOURS[0] },
          { name: "precision", values: pick(series.precision), colour: SERIES_COLOURS[1] },
          { name: "F1", values: pick(series.f1), colour: SERIES_COLOURS[2] },
        ],
      }));
    }
    const cell = this.hoverCell ?? (this.selectedCell && this.selectedCell.run === v.run ? this.selectedCell : null);
    if (!cell) {
      cellBox.appendChild(h("p", { class: "hint" }, "Hover or select a cell to see its trend."));
    } else {
      this.drawCellTrend(cellBox, v, cell.t, cell.p);
    }
    return card;
  }

  private drawCellTrend(box: HTMLElement, v: PanelView, t: number, p: number): void {
    clear(box);
    box.appendChild(h("p", { class: "hint" }, "Loading cell trend…"));
    this.cellSeries(v.run, t, p).then((s) => {
      clear(box);
      const shares = s.counts.map((c, i) => (s.row_totals[i] > 0 ? c / s.row_totals[i] : null));
      let max = 0;
      for (const x of shares) if (x !== null && x > max) max = x;
      box.appendChild(lineChart({
        title: `Share of true ${v.names[t]} predicted as ${v.names[p]}`,
        steps: s.steps, marker: v.step, percent: true, yMax: max > 0 ? Math.min(1, max * 1.1) : 1,
        series: [{ name: `${v.names[t]} → ${v.names[p]}`, values: shares, colour: SERIES_COLOURS[3] }],
      }));
    }, (e) => {
      clear(box);
      box.appendChild(h("p", { class: "notice error" }, `Could not load the cell trend: ${(e as Error).message}`));
    });
  }

  // ---------------------------------------------------------------- events

  private selectCell(run: string, t: number, p: number): void {
    if (this.mode === "matrix") this.activeRun = run;
    this.selectedCell = { run, t, p };
    this.selectedClass = t;
    this.draw(this.views, []);
  }

  private onHover(run: string, t: number | null, p: number | null, anchor: { x: number; y: number } | null, lines: string[]): void {
    if (t === null || p === null || !anchor) {
      this.tooltip.hidden = true;
      return;
    }
    clear(this.tooltip);
    lines.forEach((line, i) => { if (i) this.tooltip.appendChild(h("br")); this.tooltip.appendChild(document.createTextNode(line)); });
    this.tooltip.hidden = false;
    const w = this.tooltip.offsetWidth, hgt = this.tooltip.offsetHeight;
    const x = Math.min(anchor.x + 4, window.innerWidth - w - 4);
    const y = anchor.y + hgt + 4 > window.innerHeight ? anchor.y - hgt - 30 : anchor.y + 4;
    this.tooltip.style.left = `${Math.max(0, x)}px`;
    this.tooltip.style.top = `${Math.max(0, y)}px`;
    // per-cell trend on hover (debounced)
    if (this.hoverTimer !== null) clearTimeout(this.hoverTimer);
    this.hoverTimer = window.setTimeout(() => {
      const v = this.activeView();
      const box = this.details.querySelector<HTMLElement>("#tbc-cell-trend");
      if (v && box && v.run === run) { this.hoverCell = { t, p }; this.drawCellTrend(box, v, t, p); }
    }, 250);
  }

  private showIndex(i: number): void {
    this.slider.value = String(i);
    this.targetStep = this.steps[i] ?? null;
    this.settings.step = this.targetStep;
    this.save();
    void this.update();
  }

  private stopPlay(): void {
    if (this.playTimer !== null) clearInterval(this.playTimer);
    this.playTimer = null;
    this.playButton.textContent = "▶ Play";
    this.playButton.setAttribute("aria-pressed", "false");
  }

  private togglePlay(): void {
    if (this.playTimer !== null) {
      this.stopPlay();
      return;
    }
    if (this.steps.length < 2) return;
    this.playButton.textContent = "❚❚ Pause";
    this.playButton.setAttribute("aria-pressed", "true");
    if (Number(this.slider.value) >= this.steps.length - 1) this.showIndex(0);
    this.playTimer = window.setInterval(() => {
      const next = Number(this.slider.value) + 1;
      if (next >= this.steps.length) { this.stopPlay(); return; }
      this.showIndex(next);
      if (next >= this.steps.length - 1) this.stopPlay();
    }, PLAY_INTERVAL_MS);
  }

  private exportView(): ExportView | null {
    const v = this.activeView();
    if (!v) return null;
    const n = v.values.n;
    const values = v.shown.map((t) => v.shown.map((p) => (this.settings.hideDiagonal && t === p ? NaN : v.values.data[t * n + p])));
    return {
      run: v.run, tag: this.tag, step: v.step, normalization: this.settings.norm, mode: v.diff ? "difference" : "matrix",
      description: v.diff ? v.label : `${v.run} at step ${v.step}, ${NORM_LABELS[this.settings.norm]}${this.settings.hideDiagonal ? ", diagonal hidden" : ""}`,
      classes: v.shown.map((i) => v.names[i]), values,
    };
  }

  private exportShown(kind: "csv" | "json"): void {
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

  // ---------------------------------------------------------------- debug

  private debugState(): Record<string, unknown> {
    return {
      tag: this.tag, runs: this.runs.slice(), activeRun: this.activeRun, steps: this.steps.slice(), targetStep: this.targetStep,
      norm: this.settings.norm, hideDiagonal: this.settings.hideDiagonal, order: this.settings.order, mode: this.mode, diffKind: this.diffKind,
      panels: this.views.map((v) => ({ run: v.run, step: v.step, diff: v.diff, label: v.label, classes: v.shown.map((i) => v.names[i]) })),
      theme: document.documentElement.dataset.theme ?? "light",
    };
  }

  private debugPanel(run: string): ReturnType<DebugState["panel"]> {
    const v = this.views.find((x) => (run === "" ? x.diff : x.run === run && !x.diff)) ?? (run === "" ? null : null);
    if (!v) return null;
    const n = v.values.n;
    return {
      step: v.step,
      classes: v.shown.map((i) => v.names[i]),
      values: v.shown.map((t) => v.shown.map((p) => { const x = v.values.data[t * n + p]; return Number.isFinite(x) ? x : null; })),
      counts: v.shown.map((t) => v.shown.map((p) => v.counts.data[t * n + p])),
    };
  }
}


export { DEFAULT_SETTINGS };
