// JSON client for the plugin routes (docs/http_api.md). URLs are relative to
// the document's base (TensorBoard's plugin_entry.html sets
// <base href="plugin/tb_fmnist_confusion/">), so --path_prefix works.

export interface TagInfo {
  num_classes: number;
  class_names: string[];
  description: string;
  /** What one count is: "examples", "pixels" (segmentation) or "tokens"; absent from older servers (examples). */
  unit?: string;
  steps: number[];
  wall_times: number[];
  examples_steps: number[];
  samples_limit: number | null;
  possibly_sampled: boolean;
  /** Kinds of the diagnostic series of this matrix tag (calibration, label issues); absent or [] in older files. */
  diagnostics?: string[];
}
/** A series' numbers at its last listed step (`tags`' `summaries`, computed by tb_fmnist_plugin/metrics.py). */
export interface RunSummary {
  step: number;
  accuracy: Ratio;
  /** The lowest recall of a class with support, and that class; null when no class has any. */
  worst_recall: Ratio;
  worst_class: number | null;
  /** Recall per class; only for series of at most 100 classes. */
  recall?: Ratio[];
  /** Expected calibration error at that step; null when the run logged no calibration there. */
  ece: Ratio;
}
/** `{run: {tag: value}}`, the shape of every per-series listing. */
export type ByRunTag<T> = Record<string, Record<string, T>>;
/** A ratio as the routes send it: null where its denominator is zero. */
export type Ratio = number | null;

export interface TagsResponse {
  runs: ByRunTag<TagInfo>;
  /** The run table's numbers for each series of at most 1,000 classes; absent when there is none. */
  summaries?: ByRunTag<RunSummary>;
  /** With the request header X-Confusion-Latest: 1, the matrix at the last step of each series of at most 100 classes. */
  latest?: ByRunTag<number[][]>;
  /** With `latest`: the rows of each of those evaluations left out of its matrix (NaN logits); null where unknown. */
  latest_excluded_rows?: ByRunTag<number | null>;
}
export interface MatrixResponse {
  run: string; tag: string; step: number; wall_time: number; class_names: string[]; matrix: number[][];
  /** Rows of this evaluation left out of the matrix (null: unknown), and why. */
  excluded_rows: number | null; excluded_reason: string | null;
}
/** One class of the `metrics` route (computed by tb_fmnist_plugin/metrics.py). */
export interface ClassMetrics {
  index: number; name: string; support: number; predicted: number;
  precision: Ratio; recall: Ratio; f1: Ratio; most_confused_with: number | null; most_confused_count: number;
  /** Intersection over union (absent from older servers). */
  iou?: Ratio;
}
/** The `unit` and IoU summary fields are absent from older servers. */
export interface MetricsResponse {
  run: string; tag: string; step: number; accuracy: Ratio; total: number; classes: ClassMetrics[];
  unit?: string; mean_iou?: Ratio; frequency_weighted_iou?: Ratio; pixel_accuracy?: Ratio;
}
export interface Confusion { true: number; predicted: number; true_name: string; predicted_name: string; count: number; row_share: Ratio }
export interface TopConfusionsResponse { confusions: Confusion[] }
/** The metrics metrics_series can send; its `metrics` parameter keeps some of them. */
export type SeriesMetric = "accuracy" | "precision" | "recall" | "f1" | "support" | "iou";
/** A metrics_series answer: only the metrics asked for (all by default); with the `classes`
 * parameter the per-class fields hold only those columns, and `classes` their class indices. */
export interface MetricsSeries {
  run: string; tag: string; class_names: string[]; steps: number[]; classes?: number[]; accuracy?: Ratio[];
  precision?: Ratio[][]; recall?: Ratio[][]; f1?: Ratio[][]; support?: number[][]; iou?: Ratio[][];
}
export interface CellSeries { steps: number[]; counts: number[]; row_totals: number[] }
export interface Example { tile: number; x: number; y: number; confidence: number; dataset_index: number }
export interface ExamplesResponse { tile_width: number; tile_height: number; channels: number; columns: number; sprite: string; examples: Example[] }

/** Reliability bins (count, mean top-1 confidence, accuracy per bin) and their ECE. */
export interface ReliabilityBins { count: number[]; confidence: Ratio[]; accuracy: Ratio[] }
/** One class's calibration. With `per_class_kind` "predicted_class": the bins of the examples predicted
 * this class (`predicted` of them, their top-label ECE `predicted_ece`) and `ece` the classwise ECE; with
 * "true_class" (files from before): the bins and top-label ECE of the examples of this true class. */
export interface ClassCalibration extends ReliabilityBins {
  index: number; name: string; support: number; ece: Ratio; loss: number | null; predicted?: number; predicted_ece?: Ratio;
}
/** What a calibration answer's per-class bins are conditioned on, and which per-class ECE it sends. */
export type PerClassKind = "predicted_class" | "true_class";
export type ClassEceKind = "classwise" | "true_class";
export interface CalibrationResponse {
  per_class_kind: PerClassKind; class_ece_kind: ClassEceKind;
  run: string; tag: string; step: number; num_bins: number; edges: number[];
  overall: ReliabilityBins & { ece: Ratio }; loss: number | null; classes: ClassCalibration[];
}
/** `class_ece`: classwise ECE; `true_class_ece`: the older per-true-class ECE of steps logged before classwise bins. */
export interface CalibrationSeries { steps: number[]; ece: Ratio[]; class_ece: Ratio[][]; true_class_ece: Ratio[][]; class_loss: (number | null)[][] }
export interface CellConfidenceResponse { step: number; mean_confidence: Ratio[][] }
export interface LabelIssuesResponse { step: number; confident_joint: number[][]; suspects: number[][]; issues: number[]; total: number }
export interface Suspect {
  /** Where its thumbnail is in the sprite; null when logged without images. */
  rank: number; tile: number | null; x: number | null; y: number | null; given: number; given_name: string; suggested: number; suggested_name: string;
  self_confidence: number; confidence: number; dataset_index: number;
}
export interface SuspectsResponse {
  step: number; total: number; listed: number; inexact_rows: number; thresholds: number[];
  tile_width: number; tile_height: number; channels: number; columns: number; sprite: string | null; suspects: Suspect[];
}

/** Where an example's thumbnail is: tile `tile` of the thumbnails written at `step` (example_thumbnails_layout). */
export interface ThumbRef { step: number; tile: number }
/** One example of the per-example record as members and cell_changes list it. */
export interface RecordItem {
  row: number; index: number; label: number; predicted: number | null; confidence: number | null; p_given: number | null; thumbnail: ThumbRef | null;
}
export type Identity = "index" | "position";
export interface RecordPage { total: number; items: RecordItem[] }
export interface MembersResponse extends RecordPage { run: string; tag: string; step: number; true: number; predicted: number; identity: Identity; offset: number }
export interface CellChangesResponse { run: string; step: number; run_a: string; step_a: number; identity: Identity; entered: RecordPage; left: RecordPage }
export interface ExampleHistory {
  index: number; label: number; identity: Identity; steps: number[]; predicted: (number | null)[];
  confidence: (number | null)[]; p_given: (number | null)[]; thumbnail: ThumbRef | null;
}
export interface ForgettingResponse {
  evaluations: number; steps: number[];
  per_class: { forgetting_events: number[]; forgotten_examples: number[]; never_learned: number[]; unforgettable: number[]; examples: number[] };
  top: { index: number; label: number; forgetting_events: number; thumbnail: ThumbRef | null }[];
}
export interface DataMapResponse {
  evaluations: number; identity: Identity; thresholds: Record<string, number | null>; regions: string[];
  index: number[]; label: number[]; confidence: (number | null)[]; variability: (number | null)[]; correctness: (number | null)[];
  region: number[]; thumbnail_step: (number | null)[]; tile: (number | null)[];
}
export interface ThumbLayout {
  step: number; tile_height: number; tile_width: number; channels: number; columns: number; tiles_per_page: number;
  tiles: number; pages: number; complete: boolean;
}

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly route: string) {
    super(message);
  }
}

/** Query parameters of a route. */
export type Params = Record<string, string | number>;

export function routeUrl(route: string, params: Params = {}): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) qs.set(k, String(v));
  const q = qs.toString();
  return new URL(q ? `${route}?${q}` : route, document.baseURI).href;
}

/** A request given up by the tab (its answer was no longer wanted); not an error to show. */
export class AbortedError extends Error {
  constructor(readonly route: string) {
    super(`the ${route} request was aborted`);
  }
}

/** GET a route's JSON; `signal` aborts it (it then rejects with AbortedError). */
export async function getJson<T>(route: string, params: Params = {}, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<T> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(routeUrl(route, params), { credentials: "same-origin", headers: { Accept: "application/json", ...headers }, signal });
    text = await response.text();
  } catch (e) {
    if (signal?.aborted) throw new AbortedError(route);
    throw new ApiError(0, `cannot reach TensorBoard (${(e as Error).message}); is it still running?`, route);
  }
  if (!response.ok) {
    let message = text.slice(0, 300);
    try {
      const body = JSON.parse(text);
      if (body && typeof body.error === "string") message = body.error;
    } catch { /* not JSON */ }
    throw new ApiError(response.status, message || response.statusText, route);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(response.status, `the ${route} route did not return JSON`, route);
  }
}
