// Pure confusion-matrix logic for display: normalization, differences, class
// ordering and filtering, colour domain. Matrices are dense row-major
// Float64Arrays (rows = true class, columns = predicted class). The per-class
// metrics and top confusions come from the server (tb_fmnist_plugin/metrics.py).
import { clusterOrder, setClusterOrderInUse } from "./cluster";

export type Norm = "counts" | "true" | "pred" | "total";
export const NORMS: Norm[] = ["counts", "true", "pred", "total"];
export type Order = "original" | "error" | "alpha" | "cluster";
export const ORDERS: Order[] = ["original", "error", "alpha", "cluster"];

export interface Matrix {
  n: number;
  data: Float64Array;
}

/** A matrix from JSON rows (non-numbers become 0). Pure: the store warms a loaded matrix's cluster order
 * (cluster.ts warmClusterOrder, see store.ts). */
export function fromRows(rows: number[][]): Matrix {
  const n = rows.length;
  const data = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const row = rows[i];
    if (!Array.isArray(row) || row.length !== n) throw new Error(`matrix row ${i} has ${row && row.length} entries, expected ${n}`);
    for (let j = 0; j < n; j++) data[i * n + j] = Number(row[j]) || 0;
  }
  return { n, data };
}

export function toRows(m: Matrix): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < m.n; i++) rows.push(Array.from(m.data.subarray(i * m.n, (i + 1) * m.n)));
  return rows;
}

export function rowSums(m: Matrix): Float64Array {
  const out = new Float64Array(m.n);
  for (let i = 0; i < m.n; i++) {
    let s = 0;
    const base = i * m.n;
    for (let j = 0; j < m.n; j++) s += m.data[base + j];
    out[i] = s;
  }
  return out;
}

export function colSums(m: Matrix): Float64Array {
  const out = new Float64Array(m.n);
  for (let i = 0; i < m.n; i++) {
    const base = i * m.n;
    for (let j = 0; j < m.n; j++) out[j] += m.data[base + j];
  }
  return out;
}

/** Normalized copy: by true class (rows sum to 1), by predicted class (columns
 * sum to 1), by total; for counts `m` itself (matrices are never written to
 * once made, and a copy of a 1,000-class matrix per slider step is wasted).
 * A zero denominator gives NaN. */
export function normalize(m: Matrix, norm: Norm): Matrix {
  if (norm === "counts") return m;
  const n = m.n;
  const out = new Float64Array(n * n);
  if (norm === "true") {
    const rs = rowSums(m);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = rs[i] > 0 ? m.data[i * n + j] / rs[i] : NaN;
  } else if (norm === "pred") {
    const cs = colSums(m);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = cs[j] > 0 ? m.data[i * n + j] / cs[j] : NaN;
  } else {
    let total = 0;
    for (let k = 0; k < n * n; k++) total += m.data[k];
    for (let k = 0; k < n * n; k++) out[k] = total > 0 ? m.data[k] / total : NaN;
  }
  return { n, data: out };
}

/** b - a, cell by cell (NaN where either side is NaN). */
export function difference(a: Matrix, b: Matrix): Matrix {
  if (a.n !== b.n) throw new Error(`cannot compare a ${a.n}-class matrix with a ${b.n}-class matrix`);
  const out = new Float64Array(a.n * a.n);
  for (let k = 0; k < out.length; k++) out[k] = b.data[k] - a.data[k];
  return { n: a.n, data: out };
}

/** Class indices in the requested order: original, by error (misclassified
 * examples of the true class, most first; ties original), alphabetical, or
 * clustered (mutually confused classes together, see cluster.ts). */
export function orderClasses(m: Matrix, names: string[], order: Order): number[] {
  setClusterOrderInUse(order === "cluster");
  if (order === "cluster") return clusterOrder(m).slice();
  const idx = Array.from({ length: m.n }, (_, i) => i);
  if (order === "alpha") {
    idx.sort((a, b) => {
      const x = (names[a] ?? "").toLocaleLowerCase(), y = (names[b] ?? "").toLocaleLowerCase();
      return x < y ? -1 : x > y ? 1 : a - b;
    });
  } else if (order === "error") {
    const rs = rowSums(m);
    const err = idx.map((i) => rs[i] - m.data[i * m.n + i]);
    idx.sort((a, b) => err[b] - err[a] || a - b);
  }
  return idx;
}

/** The classes at either end of the k largest off-diagonal cells (non-zero
 * only; ties by row, then column): the classes of the k largest confusions
 * with their partners, so each of those cells is shown (at most 2k classes). */
export function topConfusionClasses(m: Matrix, k: number): Set<number> {
  const n = m.n, d = m.data;
  const out = new Set<number>();
  if (k <= 0) return out;
  // the k largest so far, in descending order (values and cell indices)
  const vals: number[] = [], cells: number[] = [];
  for (let i = 0; i < n; i++) {
    const base = i * n;
    for (let j = 0; j < n; j++) {
      const v = d[base + j];
      if (!(v > 0) || i === j || (vals.length === k && v <= vals[k - 1])) continue;
      let at = vals.length;
      while (at > 0 && vals[at - 1] < v) at--;
      vals.splice(at, 0, v);
      cells.splice(at, 0, base + j);
      if (vals.length > k) { vals.pop(); cells.pop(); }
    }
  }
  for (const c of cells) { out.add(Math.floor(c / n)); out.add(c % n); }
  return out;
}

/** Parse a class-subset filter: comma-separated names (exact, case-insensitive)
 * or, for a term matching no name exactly, every class whose name contains it. */
export function matchSubset(names: string[], filter: string): Set<number> | null {
  const terms = filter.split(",").map((t) => t.trim().toLocaleLowerCase()).filter((t) => t.length > 0);
  if (terms.length === 0) return null;
  const lower = names.map((n) => n.toLocaleLowerCase());
  const out = new Set<number>();
  for (const term of terms) {
    let exact = false;
    lower.forEach((name, i) => { if (name === term) { out.add(i); exact = true; } });
    if (!exact) lower.forEach((name, i) => { if (name.includes(term)) out.add(i); });
  }
  return out;
}

/** Ordered, filtered class indices shown in the view. */
export function shownClasses(m: Matrix, names: string[], order: Order, subset: string, topK: number): number[] {
  let idx = orderClasses(m, names, order);
  const subsetSet = matchSubset(names, subset);
  if (subsetSet) idx = idx.filter((i) => subsetSet.has(i));
  if (topK > 0) {
    const top = topConfusionClasses(m, topK);
    idx = idx.filter((i) => top.has(i));
  }
  return idx;
}

/** Largest |value| over the shown cells (off-diagonal only when hideDiagonal). */
export function colourDomain(values: Matrix, shown: number[], hideDiagonal: boolean): number {
  let max = 0;
  const n = values.n, d = values.data, k = shown.length;
  const cols = Int32Array.from(shown);
  for (let r = 0; r < k; r++) {
    const i = cols[r], base = i * n;
    for (let c = 0; c < k; c++) {
      const j = cols[c];
      if (hideDiagonal && i === j) continue;
      const v = d[base + j];
      const a = v < 0 ? -v : v;
      if (a > max) max = a;
    }
  }
  return max;
}
