// View settings remembered across reloads (localStorage), validated on read.
import { NORMS, ORDERS, type Norm, type Order } from "./matrix";

export interface Settings {
  norm: Norm;
  hideDiagonal: boolean;
  order: Order;
  subset: string;
  topK: number;
  tag: string | null;
  runs: string[] | null;
  step: number | null;
  topN: number;
  /** What colours the heatmap cells: the shown values, or the mean confidence of each cell's predictions. */
  colourBy: ColourBy;
  /** Colour counts on a log scale (two decades below the top of the colour domain). */
  logColour: boolean;
}

export type ColourBy = "count" | "confidence";

export const DEFAULT_SETTINGS: Settings = {
  norm: "counts", hideDiagonal: false, order: "original", subset: "", topK: 0, tag: null, runs: null, step: null, topN: 10,
  colourBy: "count", logColour: false,
};

export function parseSettings(text: string | null): Settings {
  const s: Settings = { ...DEFAULT_SETTINGS };
  if (!text) return s;
  let raw: unknown;
  try { raw = JSON.parse(text); } catch { return s; }
  if (!raw || typeof raw !== "object") return s;
  const r = raw as Record<string, unknown>;
  if (typeof r.norm === "string" && (NORMS as string[]).includes(r.norm)) s.norm = r.norm as Norm;
  if (typeof r.hideDiagonal === "boolean") s.hideDiagonal = r.hideDiagonal;
  if (typeof r.order === "string" && (ORDERS as string[]).includes(r.order)) s.order = r.order as Order;
  if (typeof r.subset === "string") s.subset = r.subset.slice(0, 2000);
  if (Number.isInteger(r.topK) && (r.topK as number) >= 0) s.topK = r.topK as number;
  if (typeof r.tag === "string") s.tag = r.tag;
  if (Array.isArray(r.runs) && r.runs.every((x) => typeof x === "string")) s.runs = r.runs as string[];
  if (Number.isInteger(r.step) && (r.step as number) >= 0) s.step = r.step as number;
  if (Number.isInteger(r.topN) && (r.topN as number) > 0 && (r.topN as number) <= 100) s.topN = r.topN as number;
  if (r.colourBy === "count" || r.colourBy === "confidence") s.colourBy = r.colourBy;
  // older settings may hold suspectsOverlay (a removed overlay of suspects on the matrix): ignored
  if (typeof r.logColour === "boolean") s.logColour = r.logColour;
  return s;
}

export function serializeSettings(s: Settings): string {
  return JSON.stringify(s);
}
