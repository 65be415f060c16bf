// The tab's data: every route it reads goes through one PromiseCache per
// route, plus the matrices that came with the run list and the background
// prefetching that keeps the slider and the player from waiting on the network.
import {
  getJson, type ByRunTag, type CalibrationResponse, type CalibrationSeries, type CellConfidenceResponse, type CellSeries,
  type ExamplesResponse, type LabelIssuesResponse, type MatrixResponse, type MetricsResponse, type MetricsSeries, type Params,
  type SeriesMetric, type SuspectsResponse, type TagInfo, type TopConfusionsResponse,
  type CellChangesResponse, type DataMapResponse, type ExampleHistory, type ForgettingResponse, type MembersResponse, type ThumbLayout,
} from "../api";
import type { ExcludedRows } from "../logic/format";
import { warmClusterOrder } from "../logic/cluster";
import { fromRows, type Matrix } from "../logic/matrix";
import { PromiseCache, type Cached } from "./cache";
import type { Cell, Plan, RunStep, TabState } from "./state";

/** One step's matrix; `excluded`: rows of its evaluation left out of it (NaN logits), null where unknown. */
export interface LoadedMatrix { step: number; names: string[]; counts: Matrix; wallTime: number; excluded: number | null }

/** A row count as the routes send it, or null (unknown, or not a count). */
function rowCount(value: unknown): number | null {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : null;
}

/** The rows left out of `m` (drawn for `run`, `tag`), as a list: empty when none or unknown. */
/** The matrix of JSON `rows`, its cluster order warmed: while the shown order is "Cluster" (cluster.ts
 * setClusterOrderInUse, set by orderClasses) a large matrix's order is computed when the page is idle, so a
 * step fetched ahead of the slider finds it ready; otherwise warmClusterOrder returns at once (cheap). */
function loadedCounts(rows: number[][]): Matrix {
  const m = fromRows(rows);
  warmClusterOrder(m);
  return m;
}

export function excludedOf(run: string, tag: string, m: LoadedMatrix): ExcludedRows[] {
  if (!m.excluded) return [];
  return [{ run, tag, step: m.step, rows: m.excluded, evaluated: m.counts.data.reduce((s, x) => s + x, 0) + m.excluded }];
}

/** About 6 million cells (48 MB of Float64) of matrices at most: 6 steps of a 1,000-class matrix. */
const MATRIX_CELLS = 6e6;
/** Most answers about single steps kept per route. */
const PER_STEP_LIMIT = 2000;
/** Up to this many classes and steps per run, every step is fetched in the background after the first draw. */
const PREFETCH_ALL_CLASSES = 100;
const PREFETCH_ALL_STEPS = 500;
/** Background fetches at a time. */
const PREFETCH_PARALLEL = 2;
/** Most metrics_series answers kept (the table's recall of a run, one class's trends per class looked at). */
const SERIES_LIMIT = 32;
/** Most pages of members / moved examples and example histories kept; most forgetting and data-map answers (one per run and tag). */
const RECORD_PAGES_LIMIT = 200;
const RECORD_RUNS_LIMIT = 8;

/** One page of a record listing: its sort, order and range. */
export interface RecordPaging { sort: "confidence" | "p_given"; order: "desc" | "asc"; offset: number; limit: number }

/** What part of metrics_series to ask for: only these metrics (all when absent), only these classes' columns. */
export interface SeriesPart { metrics?: SeriesMetric[]; classes?: number[] }

const key = (...parts: (string | number)[]) => parts.join("\u0000");

export class DataStore {
  private matrices = new PromiseCache<LoadedMatrix>();
  private metricsCache = new PromiseCache<MetricsResponse>();
  private topCache = new PromiseCache<TopConfusionsResponse>();
  private examplesCache = new PromiseCache<ExamplesResponse>();
  private seriesCache = new PromiseCache<MetricsSeries>();
  private cellCache = new PromiseCache<CellSeries>();
  private sprites = new PromiseCache<HTMLImageElement>();
  private calibrationCache = new PromiseCache<CalibrationResponse>();
  private calibrationSeriesCache = new PromiseCache<CalibrationSeries>();
  private cellConfidenceCache = new PromiseCache<CellConfidenceResponse>();
  private labelIssuesCache = new PromiseCache<LabelIssuesResponse>();
  private suspectsCache = new PromiseCache<SuspectsResponse>();
  // the per-example record (issue 19): pages of members and moved examples, histories, whole-run answers
  private membersCache = new PromiseCache<MembersResponse>();
  private changesCache = new PromiseCache<CellChangesResponse>();
  private historyCache = new PromiseCache<ExampleHistory>();
  private forgettingCache = new PromiseCache<ForgettingResponse>();
  private dataMapCache = new PromiseCache<DataMapResponse>();
  private layoutCache = new PromiseCache<ThumbLayout>();
  /** The step prefetchNeighbours last saw, and the way the steps moved to it. */
  private lastTarget: number | null = null;
  private direction: 1 | -1 = 1;

  constructor() {
    for (const c of [this.topCache, this.examplesCache, this.calibrationCache, this.suspectsCache]) c.limit = PER_STEP_LIMIT;
    this.membersCache.limit = this.changesCache.limit = this.historyCache.limit = RECORD_PAGES_LIMIT;
    this.forgettingCache.limit = this.dataMapCache.limit = RECORD_RUNS_LIMIT;
    this.seriesCache.limit = SERIES_LIMIT;
    this.fitClasses(1);
  }

  matrix(run: string, tag: string, step: number): Cached<LoadedMatrix> {
    return this.matrices.entry(key(run, tag, step), () => getJson<MatrixResponse>("matrix", { run, tag, step }).then((r) => ({
      step: r.step, names: r.class_names.map(String), counts: loadedCounts(r.matrix), wallTime: r.wall_time, excluded: rowCount(r.excluded_rows),
    })));
  }

  /** Per-class metrics of one step, computed by the server (tb_fmnist_plugin/metrics.py). */
  metrics(run: string, tag: string, step: number): Cached<MetricsResponse> {
    return this.json(this.metricsCache, "metrics", { run, tag, step });
  }

  /** The `n` largest off-diagonal cells of one step, from the server. */
  topConfusions(run: string, tag: string, step: number, n: number): Cached<TopConfusionsResponse> {
    return this.json(this.topCache, "top_confusions", { run, tag, step, n });
  }

  examples(run: string, tag: string, step: number, cell: Cell): Cached<ExamplesResponse> {
    return this.json(this.examplesCache, "examples", { run, tag, step, true: cell.t, predicted: cell.p });
  }

  /** The per-class metrics over every step; `part` asks only for what is shown (a long series' whole answer is megabytes). */
  metricsSeries(run: string, tag: string, part: SeriesPart = {}): Cached<MetricsSeries> {
    const params: Params = { run, tag };
    if (part.metrics) params.metrics = part.metrics.join(",");
    if (part.classes) params.classes = part.classes.join(",");
    return this.json(this.seriesCache, "metrics_series", params);
  }

  cellSeries(run: string, tag: string, cell: Cell): Cached<CellSeries> {
    return this.json(this.cellCache, "cell_series", { run, tag, true: cell.t, predicted: cell.p });
  }

  /** Reliability bins, ECE and loss of one step (overall and per class). */
  calibration(run: string, tag: string, step: number): Cached<CalibrationResponse> {
    return this.json(this.calibrationCache, "calibration", { run, tag, step });
  }

  calibrationSeries(run: string, tag: string): Cached<CalibrationSeries> {
    return this.json(this.calibrationSeriesCache, "calibration_series", { run, tag });
  }

  cellConfidence(run: string, tag: string, step: number): Cached<CellConfidenceResponse> {
    return this.json(this.cellConfidenceCache, "cell_confidence", { run, tag, step });
  }

  labelIssues(run: string, tag: string, step: number): Cached<LabelIssuesResponse> {
    return this.json(this.labelIssuesCache, "label_issues", { run, tag, step });
  }

  /** The suspected label errors of one step, of one given class or one (given, suggested) cell when asked. */
  suspects(run: string, tag: string, step: number, filter: { given?: number; suggested?: number } = {}): Cached<SuspectsResponse> {
    return this.json(this.suspectsCache, "suspects", { run, tag, step, ...filter });
  }

  /** A page of the members of `cell` at `step` (per-example record). */
  members(run: string, tag: string, step: number, cell: Cell, paging: RecordPaging): Cached<MembersResponse> {
    return this.json(this.membersCache, "members", { run, tag, step, true: cell.t, predicted: cell.p, ...paging });
  }

  /** The examples that entered / left `cell` between A (`runA` at `stepA`) and B (`run` at `step`), one page of each. */
  cellChanges(run: string, tag: string, step: number, cell: Cell, a: { run: string; step: number }, paging: RecordPaging): Cached<CellChangesResponse> {
    const params: Params = { run, tag, step, true: cell.t, predicted: cell.p, step_a: a.step, ...paging };
    if (a.run !== run) params.run_a = a.run;
    return this.json(this.changesCache, "cell_changes", params);
  }

  exampleHistory(run: string, tag: string, index: number): Cached<ExampleHistory> {
    return this.json(this.historyCache, "example_history", { run, tag, index });
  }

  forgetting(run: string, tag: string): Cached<ForgettingResponse> {
    return this.json(this.forgettingCache, "forgetting", { run, tag, limit: 100 });
  }

  dataMap(run: string, tag: string): Cached<DataMapResponse> {
    return this.json(this.dataMapCache, "data_map", { run, tag });
  }

  /** The page geometry of the thumbnails written at `step`. */
  thumbLayout(run: string, tag: string, step: number): Cached<ThumbLayout> {
    return this.json(this.layoutCache, "example_thumbnails_layout", { run, tag, step });
  }

  sprite(url: string): Cached<HTMLImageElement> {
    return this.sprites.entry(url, () => new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error("sprite failed to load"));
      img.src = url;
    }));
  }

  /** Keep as many matrices (and per-class metrics, as many steps) as fit
   * MATRIX_CELLS for the largest shown class count. */
  fitClasses(numClasses: number): void {
    const n = Math.max(1, numClasses);
    this.matrices.limit = this.metricsCache.limit = this.cellConfidenceCache.limit = this.labelIssuesCache.limit = Math.max(4, Math.min(PER_STEP_LIMIT, Math.floor(MATRIX_CELLS / (n * n))));
  }

  /** Forget the answers of single steps (a Reload: steps may have been rewritten). */
  forgetSteps(): void {
    for (const c of [this.matrices, this.metricsCache, this.topCache, this.examplesCache, this.calibrationCache, this.cellConfidenceCache,
      this.labelIssuesCache, this.suspectsCache, this.membersCache, this.changesCache, this.layoutCache]) c.clear();
  }

  /** Forget the answers over all steps (the list of steps changed). */
  forgetSeries(): void {
    this.seriesCache.clear();
    this.cellCache.clear();
    this.calibrationSeriesCache.clear();
    for (const c of [this.historyCache, this.forgettingCache, this.dataMapCache]) c.clear();
  }

  /** Put the last-step matrices that came with the run list (and their excluded rows) into the matrix cache. */
  seedLatest(tags: ByRunTag<TagInfo>, latest: ByRunTag<number[][]>, excluded: ByRunTag<number | null> = {}): void {
    for (const [run, byTag] of Object.entries(latest)) {
      if (!byTag || typeof byTag !== "object") continue;
      for (const [tag, rows] of Object.entries(byTag)) {
        const info = tags[run]?.[tag];
        if (!info || !Array.isArray(rows) || info.steps.length === 0) continue;
        const last = info.steps.length - 1;
        let loaded: LoadedMatrix;
        try {
          loaded = {
            step: info.steps[last], names: info.class_names.map(String), counts: loadedCounts(rows), wallTime: info.wall_times[last],
            excluded: rowCount(excluded?.[run]?.[tag]),
          };
        } catch {
          continue; // malformed: the matrix route is asked instead
        }
        this.matrices.put(key(run, tag, loaded.step), loaded);
      }
    }
  }

  /** Start loading what drawing `plan` needs; resolves when the cards' numbers are in (failures included). */
  prefetch(plan: Plan, tag: string, topN: number): Promise<void> {
    const sides = plan.diff ? [plan.diff.a, plan.diff.b] : plan.panels.map((p) => ({ ...p, tag }));
    for (const side of sides) this.matrix(side.run, side.tag, side.step).load().catch(() => undefined);
    return plan.details ? this.prefetchDetails(plan.details, tag, topN) : Promise.resolve();
  }

  /** Load the per-class numbers the cards show for one run and step. */
  prefetchDetails({ run, step }: RunStep, tag: string, topN: number): Promise<void> {
    const loads = [this.metrics(run, tag, step).load(), this.topConfusions(run, tag, step, topN).load()];
    return Promise.all(loads).then(() => undefined, () => undefined);
  }

  /** Small series: fetch every step in the background, step by step from the
   * first (the matrices of the ticked runs and the cards' numbers of the
   * details run), so the slider and Play redraw without the network. */
  prefetchAll(state: TabState): void {
    const { tag, settings } = state;
    const runs = state.panelRuns(); // the runs drawn (at most MAX_PANELS of those ticked)
    const stepsOf = new Map(runs.map((run) => [run, new Set(state.info(run, tag)?.steps ?? [])]));
    const classes = (run: string) => state.info(run, tag)?.num_classes ?? 0;
    if (!runs.every((r) => classes(r) <= PREFETCH_ALL_CLASSES && stepsOf.get(r)!.size <= PREFETCH_ALL_STEPS)) return;
    const details = state.plan(state.targetStep).details;
    const tasks: (() => Promise<unknown>)[] = [];
    for (const step of state.steps) {
      for (const run of runs) if (stepsOf.get(run)!.has(step)) tasks.push(() => this.matrix(run, tag, step).load());
      if (details && stepsOf.get(details.run)?.has(step)) tasks.push(() => this.prefetchDetails({ run: details.run, step }, tag, settings.topN));
    }
    const next = (): void => {
      const task = tasks.shift();
      if (task && state.tag === tag) task().then(next, next);
    };
    for (let i = 0; i < PREFETCH_PARALLEL; i++) next();
  }

  /** Fetch what the steps next to the shown one need, so the next slider move or Play tick finds it cached:
   * the next step in the direction the steps last moved first, then the one on the other side. */
  prefetchNeighbours(state: TabState): void {
    const { steps, targetStep, tag, settings } = state;
    if (targetStep === null) return;
    if (this.lastTarget !== null && targetStep !== this.lastTarget) this.direction = targetStep < this.lastTarget ? -1 : 1;
    this.lastTarget = targetStep;
    const i = steps.indexOf(targetStep);
    for (const j of [i + this.direction, i - this.direction]) {
      if (steps[j] !== undefined) void this.prefetch(state.plan(steps[j]), tag, settings.topN);
    }
  }

  private json<T>(cache: PromiseCache<T>, route: string, params: Params): Cached<T> {
    // named parameters: optional ones (suspects' given/suggested, metrics_series' metrics/classes) must not collide
    return cache.entry(key(...Object.entries(params).flat()), () => getJson<T>(route, params));
  }
}
