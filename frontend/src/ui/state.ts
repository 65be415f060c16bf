// What the tab shows: the selection (tag, runs, step, mode, cell, class) and
// the drawn panels, shared by the controls, the panels and the cards; plus the
// names of the shapes they pass around and what they ask of the tab.
import type { ByRunTag, ExampleHistory, RunSummary, TagInfo } from "../api";
import { pickSetA, trainTagOf, type TagClasses } from "../logic/diagnostics";
import type { ExcludedRows } from "../logic/format";
import type { Matrix } from "../logic/matrix";
import { cellFits, emptySelection, pruneSelection, type Cell, type Selection, type ShownPanel } from "../logic/selection";
import { parseSettings, serializeSettings, type Settings } from "../logic/settings";
import { nearestStep } from "../logic/steps";

const STORAGE_KEY = "tb_fmnist_confusion.settings.v1";

/** Most matrix panels drawn at once: with more runs ticked (All, at 1,000 runs), the first MAX_PANELS of
 * them in the run table's order get a panel, and a notice says so. */
export const MAX_PANELS = 24;

export type Mode = "matrix" | "difference";
export type DiffKind = "steps" | "runs" | "sets";
export type ExportKind = "csv" | "json";
/** A run at one of its steps. */
export interface RunStep { run: string; step: number }
/** A run at one of its steps of a given tag (a side of a difference). */
export interface TagRunStep extends RunStep { tag: string }
export type { Cell } from "../logic/selection";

/** One drawn heatmap: a run at a step, or (diff) the difference B − A with B's run and step. */
export interface PanelView {
  run: string;
  /** The tag the matrix belongs to (the cards ask for this tag's numbers). */
  tag: string;
  step: number;
  names: string[];
  shown: number[];
  counts: Matrix;
  countsA: Matrix | null;
  values: Matrix;
  /** Mean top-1 confidence per cell (NaN: no predictions), when the cells are coloured by it. */
  confidence: Matrix | null;
  /** What of the above could not be loaded, for the notices above the panels. */
  problems: string[];
  diff: boolean;
  label: string;
  /** Rows left out of the drawn matrices (of both sides of a difference), for the notices above the panels. */
  excluded: ExcludedRows[];
}

/** An example of the per-example record picked for its history strip. */
export interface SelectedExample { run: string; tag: string; index: number; history: ExampleHistory | null }

/** A panel whose matrix could not be loaded. */
export interface PanelError { run: string; error: unknown; step: number | null }

/** The matrices one slider step needs: each selected run at its nearest step
 * (matrix mode) or the two sides of the difference, and whose per-class
 * numbers the cards show. */
export interface Plan {
  /** The tag of every matrix below. */
  tag: string;
  panels: RunStep[];
  diff: { a: TagRunStep; b: TagRunStep } | null;
  details: RunStep | null;
}

/** What the parts of the tab ask of the whole. */
export interface Actions {
  /** The selection changed: load what the panels need, then redraw. */
  update(): void;
  /** Redraw from the panels already loaded (another cell or active run). */
  redraw(): void;
  /** Redraw the cards below the panels. */
  redrawDetails(): void;
  /** Another tag was picked. */
  tagChanged(): void;
  /** A run was ticked or unticked. */
  runsChanged(): void;
  /** The slider or the player moved to `state.targetStep`. */
  stepChanged(bySlider: boolean): void;
  /** Select cell (t, p) of the panel that shows `view`. */
  selectCell(view: PanelView, t: number, p: number): void;
  /** Put the keyboard focus on a cell of the panel that shows `view`. */
  focusCell(view: PanelView, t: number, p: number): void;
  /** List runs and steps again (Reload, Retry). */
  reload(): void;
}

export class TabState {
  settings: Settings;
  tags: ByRunTag<TagInfo> | null = null;
  /** The listing's numbers at each series' last step (the run table's). */
  summaries: ByRunTag<RunSummary> = {};
  tag = "";
  runs: string[] = [];
  activeRun = "";
  steps: number[] = [];
  targetStep: number | null = null;
  mode: Mode = "matrix";
  diffKind: DiffKind = "steps";
  diffRun = "";
  diffStepA: number | null = null;
  diffRunA = "";
  diffRunB = "";
  /** Set A of the "sets" difference (a matrix tag of diffRun); "" for the default (the train tag). */
  diffTagA = "";
  /** The selected cell and class and the hovered cell; read them through the *Of(view) methods. */
  selection: Selection = emptySelection();
  /** `runs` in the run table's order (its sort; set by the run table): which ticked runs get a panel beyond MAX_PANELS. */
  tableOrder: (runs: string[]) => string[] = (runs) => runs;
  views: PanelView[] = [];
  /** The example picked in the Examples card (per-example record): its history once loaded; its cell is outlined in its run's panel. */
  example: SelectedExample | null = null;

  constructor() {
    let stored: string | null = null;
    try { stored = window.localStorage.getItem(STORAGE_KEY); } catch { /* storage blocked */ }
    this.settings = parseSettings(stored);
  }

  /** Remember the view settings, tag and runs across reloads. Once runs are listed (a tag is picked) the ticked
   * runs are saved as they are, none included: an empty list saved means none ticked, while nothing saved
   * (null, a first visit) gets the default selection (app.ts onTagChanged). */
  save(): void {
    this.settings.tag = this.tag || this.settings.tag;
    if (this.tag) this.settings.runs = this.runs.slice();
    try { window.localStorage.setItem(STORAGE_KEY, serializeSettings(this.settings)); } catch { /* storage blocked */ }
  }

  info(run: string, tag = this.tag): TagInfo | null {
    return this.tags?.[run]?.[tag] ?? null;
  }

  allTags(): string[] {
    const set = new Set<string>();
    for (const byTag of Object.values(this.tags ?? {})) for (const t of Object.keys(byTag ?? {})) set.add(t);
    return Array.from(set).sort();
  }

  runsWithTag(tag = this.tag): string[] {
    return Object.keys(this.tags ?? {}).filter((r) => this.info(r, tag)).sort();
  }

  /** The matrix tags of `run` with their class counts. */
  tagsOf(run: string): TagClasses[] {
    return Object.entries(this.tags?.[run] ?? {}).map(([tag, info]) => ({ tag, classes: info.num_classes })).sort((a, b) => (a.tag < b.tag ? -1 : 1));
  }

  /** Set A of the "sets" difference in `run` (set B is the tag chosen above); null if the run has no other tag of the same classes. */
  setATag(run: string): string | null {
    const info = this.info(run);
    return info ? pickSetA(this.tag, info.num_classes, this.tagsOf(run), this.diffTagA || null) : null;
  }

  /** The set the per-class table compares `tag` of `run` with: set A of the
   * "sets" difference, else the tag's train sibling if the run has it with the same classes. */
  comparedSet(run: string, tag: string): string | null {
    if (this.mode === "difference" && this.diffKind === "sets" && tag === this.tag) return this.setATag(run);
    const train = trainTagOf(tag);
    const info = this.info(run, tag);
    const other = train === null ? null : this.info(run, train);
    return info && other && other.num_classes === info.num_classes ? train : null;
  }

  /** The step of `run` shown at slider step `target` (its nearest one). */
  stepOf(run: string, target: number | null): number | null {
    return target === null ? null : nearestStep(this.info(run)?.steps ?? [], target);
  }

  /** The panel whose details the cards show. */
  activeView(): PanelView | null {
    if (this.mode === "difference") return this.views[0] ?? null;
    return this.views.find((v) => v.run === this.activeRun) ?? this.views[0] ?? null;
  }

  /** The ticked runs that get a matrix panel: every one up to MAX_PANELS, else the first MAX_PANELS in the
   * run table's order (drawn, like the others, in the order of `runs`). */
  panelRuns(): string[] {
    if (this.runs.length <= MAX_PANELS) return this.runs;
    const first = new Set(this.tableOrder(this.runs).slice(0, MAX_PANELS));
    return this.runs.filter((run) => first.has(run));
  }

  plan(target: number | null): Plan {
    if (this.mode === "matrix") {
      const panels: RunStep[] = [];
      for (const run of this.panelRuns()) {
        const step = this.stepOf(run, target);
        if (step !== null) panels.push({ run, step });
      }
      return { tag: this.tag, panels, diff: null, details: panels.find((p) => p.run === this.activeRun) ?? panels[0] ?? null };
    }
    const none: Plan = { tag: this.tag, panels: [], diff: null, details: null };
    if (this.diffKind === "sets") {
      const run = this.diffRun;
      const tagA = run ? this.setATag(run) : null;
      const stepB = this.stepOf(run, target);
      const stepA = tagA === null || stepB === null ? null : nearestStep(this.info(run, tagA)?.steps ?? [], stepB);
      if (!run || tagA === null || stepA === null || stepB === null) return none;
      const b = { run, step: stepB, tag: this.tag };
      return { tag: this.tag, panels: [], diff: { a: { run, step: stepA, tag: tagA }, b }, details: b };
    }
    const [runA, runB] = this.diffKind === "steps" ? [this.diffRun, this.diffRun] : [this.diffRunA, this.diffRunB];
    const stepA = this.diffKind === "steps" ? this.diffStepA : this.stepOf(runA, target);
    const stepB = this.stepOf(runB, target);
    if (!runA || !runB || stepA === null || stepB === null) return none;
    const b = { run: runB, step: stepB, tag: this.tag };
    return { tag: this.tag, panels: [], diff: { a: { run: runA, step: stepA, tag: this.tag }, b }, details: b };
  }

  // ---------------------------------------------------------------- selection

  /** The selected cell, if it is a cell of `v`. */
  selectedCellOf(v: PanelView): Cell | null {
    const cell = this.selection.cell;
    return cell && this.selection.tag === v.tag && cellFits(cell, shownPanel(v)) ? cell : null;
  }

  /** The class picked for the trend card, if `v` has it. */
  selectedClassOf(v: PanelView): number | null {
    const cls = this.selection.cls;
    return cls !== null && this.selection.tag === v.tag && cls < v.counts.n ? cls : null;
  }

  /** The cell last hovered, if it is a cell of `v`'s run. */
  hoveredCellOf(v: PanelView): Cell | null {
    const cell = this.selection.hovered;
    return cell && this.selection.tag === v.tag && cell.run === v.run && cellFits(cell, shownPanel(v)) ? cell : null;
  }

  /** Select cell (t, p) of `v` (and its true class for the trend card). */
  selectCell(v: PanelView, t: number, p: number): void {
    const sel = this.selectionFor(v);
    sel.cell = { run: v.run, t, p };
    sel.cls = t;
  }

  selectClass(v: PanelView, cls: number): void {
    this.selectionFor(v).cls = cls;
  }

  hoverCell(v: PanelView, cell: Cell): void {
    this.selectionFor(v).hovered = { run: v.run, ...cell };
  }

  /** Forget what the drawn panels no longer have (another tag, a run no longer shown, fewer classes). */
  pruneSelection(): void {
    const details = this.activeView();
    this.selection = pruneSelection(this.selection, {
      tag: this.views[0]?.tag ?? this.tag,
      panels: this.views.map(shownPanel),
      details: details && shownPanel(details),
    });
  }

  /** The selection, started anew if it was made in another tag than `v`'s. */
  private selectionFor(v: PanelView): Selection {
    if (this.selection.tag !== v.tag) this.selection = emptySelection(v.tag);
    return this.selection;
  }
}

function shownPanel(v: PanelView): ShownPanel {
  return { run: v.run, classes: v.counts.n, diff: v.diff };
}

