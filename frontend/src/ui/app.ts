// The confusion tab: builds the page from its parts (controls, player,
// panels, cards), lists runs and steps, and turns the selection into drawn
// panels. Pure logic lives in ../logic; data comes through the DataStore.
import { ApiError, type TagsResponse } from "../api";
import { setDivergingTheme } from "../logic/colors";
import { difference, normalize, shownClasses } from "../logic/matrix";
import { mostRecent } from "../logic/run-filter";
import { nearestStep, unionSteps } from "../logic/steps";
import { Controls } from "./controls";
import { DrawMarks } from "./debug";
import { Details } from "./details";
import { h } from "./dom";
import { TagsListing, type ListingUser, type Pending } from "./listing";
import { describeError, Notices, PageState } from "./messages";
import { loadExtras, NO_EXTRAS, type PanelExtras } from "./panel-extras";
import { Panels } from "./panels";
import { Player } from "./player";
import { RunTable } from "./run-table";
import { MAX_PANELS, TabState, type Actions, type PanelError, type PanelView, type Plan } from "./state";
import { DataStore, excludedOf, type LoadedMatrix } from "./store";

const LOADING_NOTE_DELAY_MS = 150;
/** Runs ticked by default: the most recent ones (by the wall time of their last step). */
const DEFAULT_RUNS = 4;

export class App implements Actions, ListingUser {
  private state = new TabState();
  private store = new DataStore();
  private listing: TagsListing;
  private marks = new DrawMarks(this.state, () => this.listing.refresh());
  private controls = new Controls(this.state, this);
  private runTable = new RunTable(this.state, this);
  /** The runs ticked by default (the most recent), until a run is ticked or unticked: they then follow new runs. */
  private defaultRuns: string[] | null = null;
  /** Whether runs were ticked or unticked in the table (then even none stays none on a refresh). */
  private runsTicked = false;
  private player = new Player(this.state, this);
  private details = new Details({ state: this.state, store: this.store, actions: this });
  private panels = new Panels(this.state, this, (view, cell) => this.details.hover(view, cell), this.store);
  private notices = new Notices();
  private main = h("div", { id: "tbc-main" });
  /** The left column: what picks the runs. */
  private side = h("aside", { id: "tbc-side", "aria-label": "Runs" }, this.runTable.el);
  private page = new PageState(this.main);
  private generation = 0;

  /** `earlyTags`: the first request of the run list, started before the page was built. */
  constructor(root: HTMLElement, earlyTags: Pending<TagsResponse> | null = null) {
    this.listing = new TagsListing(this, earlyTags);
    const reload = h("button", { type: "button", id: "tbc-reload", title: "Fetch the list of runs and steps again" }, "Reload");
    reload.addEventListener("click", () => this.reload());
    const header = h("div", { class: "toolbar" }, h("h1", {}, "Confusion matrices"), reload);
    // Layout (styles.ts): runs in the left column (#tbc-side: the slot of the
    // run list), the controls and the step slider in a bar that stays on top
    // while scrolling, the matrices side by side with the cards right under them.
    this.main.append(this.side,
      h("div", { id: "tbc-topbar" }, this.controls.toolbar, this.player.el, this.controls.diffBar),
      h("div", { id: "tbc-content" }, this.notices.el, this.panels.colourBar, this.panels.el, this.details.el));
    this.main.hidden = true;
    root.append(header, this.page.el, this.main, this.panels.tooltip);
  }

  async start(): Promise<void> {
    await this.loadTags();
    // like TensorBoard's own auto-reload: pick up new runs and steps
    this.listing.startAutoRefresh();
  }

  onThemeChange(): void {
    setDivergingTheme(document.documentElement.dataset.theme === "dark" ? "dark" : "light");
    if (this.state.views.length) this.redraw();
  }

  // ---------------------------------------------------------------- actions

  update(): void {
    void this.loadAndDraw();
  }

  redraw(): void {
    this.draw(this.state.views, []);
  }

  redrawDetails(): void {
    this.details.draw();
  }

  tagChanged(): void {
    this.onTagChanged(false);
  }

  runsChanged(): void {
    const state = this.state;
    this.defaultRuns = null;
    this.runsTicked = true;
    if (!state.panelRuns().includes(state.activeRun)) state.activeRun = state.panelRuns()[0] ?? "";
    this.recomputeSteps(false);
    state.save();
    this.update();
  }

  stepChanged(bySlider: boolean): void {
    if (bySlider) this.marks.sliderMoved();
    this.update();
  }

  selectCell(view: PanelView, t: number, p: number): void {
    performance.mark("tbc-cell-click"); // to the first thumbnails of the cell's members (card-members.ts)
    if (this.state.mode === "matrix") this.state.activeRun = view.run;
    this.state.selectCell(view, t, p);
    this.redraw();
  }

  focusCell(view: PanelView, t: number, p: number): void {
    this.panels.focusCell(view, t, p);
  }

  reload(): void {
    void this.loadTags();
  }

  // ---------------------------------------------------------------- runs and steps

  /** List runs and steps now (the request in flight, if any, is given up). */
  private loadTags(): Promise<void> {
    if (!this.state.tags) this.page.loading();
    return this.listing.load();
  }

  mayRefresh(): boolean {
    return !!this.state.tags && !document.hidden && !this.player.playing;
  }

  failed(error: unknown, silent: boolean): void {
    if (!silent) this.page.serverError(error, "the list of runs", () => this.reload());
  }

  listed(tags: TagsResponse, silent: boolean, withLatest: boolean): void {
    const state = this.state;
    this.marks.mark("tbc-tags-loaded");
    const runs = tags && tags.runs && typeof tags.runs === "object" ? tags.runs : {};
    if (silent && JSON.stringify(runs) === JSON.stringify(state.tags)) return;
    if (!silent) this.store.forgetSteps();
    this.store.forgetSeries();
    // at the last step: follow new steps as they arrive
    if (silent && state.targetStep !== null && state.targetStep === state.steps[state.steps.length - 1]) { state.targetStep = null; state.settings.step = null; }
    state.tags = runs;
    state.summaries = tags && tags.summaries && typeof tags.summaries === "object" ? tags.summaries : {};
    // only the first listing asks for the last matrices (a Reload fetches them anew)
    if (withLatest && tags && tags.latest && typeof tags.latest === "object") this.store.seedLatest(runs, tags.latest, tags.latest_excluded_rows);
    const allTags = state.allTags();
    if (allTags.length === 0) {
      this.page.empty(() => this.reload());
      return;
    }
    this.page.hide();
    const wantTag = state.tag || state.settings.tag;
    // default: the tag logged by the most runs
    const runCount = (t: string) => state.runsWithTag(t).length;
    const byRuns = allTags.slice().sort((a, b) => runCount(b) - runCount(a) || (a < b ? -1 : a > b ? 1 : 0));
    state.tag = wantTag && allTags.includes(wantTag) ? wantTag : byRuns[0];
    this.controls.setTags(allTags);
    this.onTagChanged(true);
  }

  private onTagChanged(fromLoad: boolean): void {
    const state = this.state;
    const available = state.runsWithTag();
    // keep the ticked runs (on the first listing the saved ones); the default follows the most recent runs until one is ticked
    const untouched = this.defaultRuns !== null && this.defaultRuns.join("\u0000") === state.runs.join("\u0000");
    const kept = this.runsTicked || state.runs.length ? state.runs : state.settings.runs ?? [];
    const wanted = untouched ? [] : kept.filter((r) => available.includes(r));
    // none ticked on purpose (now, or saved as an empty list by an earlier visit) stays none;
    // a first visit (no runs saved) gets the default
    const noneChosen = !untouched && kept.length === 0 && (this.runsTicked || state.settings.runs !== null);
    const lastWall = (r: string) => state.info(r)?.wall_times.slice(-1)[0] ?? 0;
    if (wanted.length || noneChosen) {
      state.runs = wanted;
    } else {
      state.runs = mostRecent(available.map((name) => ({ name, lastWall: lastWall(name) })), DEFAULT_RUNS);
      this.defaultRuns = state.runs.slice();
    }
    if (!state.panelRuns().includes(state.activeRun)) state.activeRun = state.panelRuns()[0] ?? "";
    const note = this.defaultRuns === null || available.length <= state.runs.length ? null
      : `Showing the ${state.runs.length} most recent runs; tick others in the table.`;
    this.runTable.setRuns(available, note);
    this.recomputeSteps(fromLoad);
    this.controls.syncMode();
    state.save();
    this.update();
  }

  /** The slider's steps: every step of the ticked runs; keep the shown one (or the nearest). */
  private recomputeSteps(fromLoad: boolean): void {
    const state = this.state;
    state.steps = unionSteps(state.runs.map((r) => state.info(r)?.steps ?? []));
    this.store.fitClasses(Math.max(1, ...state.runs.map((r) => state.info(r)?.num_classes ?? 1)));
    const wanted = state.targetStep ?? state.settings.step;
    this.notices.clear();
    if (state.steps.length === 0) {
      state.targetStep = null;
    } else if (wanted === null) {
      state.targetStep = state.steps[state.steps.length - 1];
    } else if (!state.steps.includes(wanted)) {
      const near = nearestStep(state.steps, wanted)!;
      if (fromLoad) {
        this.notices.add("warn", `Step ${wanted} no longer exists in the selected runs (TensorBoard may have dropped it by sampling, or the run was rewritten). Showing the nearest step, ${near}.`);
      }
      state.targetStep = near;
    } else {
      state.targetStep = wanted;
    }
    this.player.setSteps();
    this.controls.syncDiagnostics();
    for (const run of state.runs) {
      const info = state.info(run);
      if (info && info.possibly_sampled) {
        this.notices.add("warn", `Run “${run}”: TensorBoard kept only ${info.samples_limit ?? "a sample of"} steps of this tag, so some logged steps may be missing. Restart TensorBoard with --samples_per_plugin=tb_fmnist_confusion=0 (0 keeps every step) to see every step.`, "sampled");
      }
    }
    if (state.diffStepA === null || !state.steps.includes(state.diffStepA)) state.diffStepA = state.steps[0] ?? null;
  }

  // ---------------------------------------------------------------- panels

  /** Load what the selection needs (the cards' numbers too, after the first draw), then draw. */
  private async loadAndDraw(): Promise<void> {
    const state = this.state;
    const gen = ++this.generation;
    const target = state.targetStep;
    this.player.showStep();
    if (!state.tags || !state.tag) return;
    const errors: PanelError[] = [];
    const slow = window.setTimeout(() => {
      if (gen !== this.generation) return;
      this.panels.setBusy(true);
      this.player.setLoading(target === null ? "Loading…" : `Loading step ${target}…`);
    }, LOADING_NOTE_DELAY_MS);
    const plan = state.plan(target);
    const detailsLoaded = this.store.prefetch(plan, plan.tag, state.settings.topN);
    // the next step's data is asked for now, with this one's, not only once this one is drawn
    if (this.marks.firstDrawDone) this.store.prefetchNeighbours(state);
    let views: PanelView[];
    try {
      views = await (plan.diff ? this.loadDiff(plan, errors) : this.loadPanels(plan, errors));
      // the first draw shows the matrices at once, the cards fill in after
      if (this.marks.firstDrawDone) await detailsLoaded;
    } finally {
      clearTimeout(slow);
    }
    if (gen !== this.generation) return;
    this.panels.setBusy(false);
    this.player.setLoading(null);
    this.draw(views, errors);
  }

  private async loadPanels(plan: Plan, errors: PanelError[]): Promise<PanelView[]> {
    const results = await Promise.all(plan.panels.map(async ({ run, step }) => {
      try {
        const m = await this.store.matrix(run, plan.tag, step).load();
        this.marks.mark("tbc-matrix-loaded");
        const extras = await loadExtras(this.state, this.store, run, plan.tag, m.step, m.counts.n);
        return this.makeView(plan.tag, run, m, null, m.step, run, excludedOf(run, plan.tag, m), extras);
      } catch (e) {
        errors.push({ run, error: e, step });
        return null;
      }
    }));
    return results.filter((v): v is PanelView => v !== null);
  }

  private async loadDiff(plan: Plan, errors: PanelError[]): Promise<PanelView[]> {
    const { a: A, b: B } = plan.diff!;
    const run = `${A.run} / ${B.run}`;
    let a: LoadedMatrix, b: LoadedMatrix;
    try {
      [a, b] = await Promise.all([A, B].map((side) => this.store.matrix(side.run, side.tag, side.step).load()));
    } catch (e) {
      errors.push({ run, error: e, step: null });
      return [];
    }
    if (a.counts.n !== b.counts.n) {
      errors.push({ run, error: new Error(`A has ${a.counts.n} classes and B ${b.counts.n}; only matrices of the same classes can be compared`), step: null });
      return [];
    }
    const kind = this.state.diffKind;
    const label = kind === "steps"
      ? `${B.run}: step ${B.step} − step ${A.step}`
      : kind === "sets"
        ? `${B.run}: ${B.tag} − ${A.tag} at step ${B.step}${A.step !== B.step ? ` (A at ${A.step})` : ""}`
        : `${B.run} − ${A.run} at step ${B.step}${A.step !== B.step ? ` (A at ${A.step})` : ""}`;
    const excluded = [...excludedOf(A.run, A.tag, a), ...excludedOf(B.run, B.tag, b)];
    return [this.makeView(plan.tag, B.run, b, a, B.step, `Difference ${label}`, excluded, NO_EXTRAS)];
  }

  /** The panel of matrix `m` of `tag` (or of m − a) in the current normalization and class order/filter. */
  private makeView(tag: string, run: string, m: LoadedMatrix, a: LoadedMatrix | null, step: number, label: string,
    excluded: PanelView["excluded"], extras: PanelExtras): PanelView {
    const { norm, order, subset, topK } = this.state.settings;
    const values = a ? difference(normalize(a.counts, norm), normalize(m.counts, norm)) : normalize(m.counts, norm);
    const shown = shownClasses(m.counts, m.names, order, subset, topK);
    return {
      run, tag, step, names: m.names, shown, counts: m.counts, countsA: a ? a.counts : null, values,
      confidence: extras.confidence, problems: extras.problems, diff: !!a, label, excluded,
    };
  }

  private draw(views: PanelView[], errors: PanelError[]): void {
    const state = this.state;
    state.views = views;
    state.pruneSelection();
    // notices for failed panels (kept apart from the step/sampling notices)
    this.notices.clear("panel-error");
    for (const { run, error, step } of errors) {
      if (error instanceof ApiError && error.status === 404 && step !== null) {
        this.notices.add("error", `Step ${step} of run “${run}” no longer exists on the server (its data changed since the list was loaded).`, "panel-error",
          { label: "Reload the list of steps", run: () => this.reload() });
      } else {
        this.notices.add("error", `Could not load run “${run}”: ${describeError(error)}. Check the terminal running tensorboard.`, "panel-error",
          { label: "Retry", run: () => { this.store.forgetSteps(); this.update(); } });
      }
    }
    const why = views.length > 0 || errors.length > 0 ? null : state.mode === "difference"
      ? "Choose what to compare above (difference mode needs a run with at least one step)."
      : "Select at least one run above.";
    this.notices.panelCap(state.mode === "matrix" ? state.runs.length : 0, MAX_PANELS);
    this.notices.excludedRows(views.flatMap((v) => v.excluded));
    this.notices.clear("diagnostics");
    for (const problem of views.flatMap((v) => v.problems)) this.notices.add("warn", problem, "diagnostics");
    this.panels.draw(views, why);
    this.runTable.paintPanels(this.panels.el);
    if (this.marks.firstDrawDone) this.details.draw();
    else setTimeout(() => this.details.draw(), 0); // first paint: the matrices first, the details right after
    this.marks.drawn(this.panels.el, (first) => {
      if (first) this.store.prefetchAll(state);
      this.store.prefetchNeighbours(state);
    });
  }
}
