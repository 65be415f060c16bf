// Pure confusion-matrix logic for display: normalization, differences, class
// ordering and filtering, colour domain. Matrices are dense row-major
// Float64Arrays (rows = true class, columns = predicted class). The per-class
// metrics and top confusions come from the server (tb_fmnist_plugin/metrics.py).

export type Norm = "counts" | "true" | "pred" | "total";
export const NORMS: Norm[] = ["counts", "true", "pred", "total"];
export type Order = "original" | "error" | "alpha";
export const ORDERS: Order[] = ["original", "error", "alpha"];

export interface Matrix {
  n: number;
  data: Float64Array;
}

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
 * sum to 1), by total, or counts unchanged. A zero denominator gives NaN. */
export function normalize(m: Matrix, norm: Norm): Matrix {
  const n = m.n;
  const out = new Float64Array(n * n);
  if (norm === "counts") {
    out.set(m.data);
  } else if (norm === "true") {
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
 * examples of the true class, most first; ties original), or alphabetical. */
export function orderClasses(m: Matrix, names: string[], order: Order): number[] {
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

/** Classes involved in the most confusion: off-diagonal row + column totals, most first. */
export function mostConfusedClasses(m: Matrix, k: number): Set<number> {
  const n = m.n;
  const score = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const v = m.data[i * n + j];
      score[i] += v;
      score[j] += v;
    }
  }
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[b] - score[a] || a - b);
  return new Set(idx.slice(0, Math.max(0, k)));
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
  if (topK > 0 && topK < m.n) {
    const top = mostConfusedClasses(m, topK);
    idx = idx.filter((i) => top.has(i));
  }
  return idx;
}

/** Largest |value| over the shown cells (off-diagonal only when hideDiagonal). */
export function colourDomain(values: Matrix, shown: number[], hideDiagonal: boolean): number {
  let max = 0;
  const n = values.n;
  for (const i of shown) {
    const base = i * n;
    for (const j of shown) {
      if (hideDiagonal && i === j) continue;
      const v = Math.abs(values.data[base + j]);
      if (v > max) max = v;
    }
  }
  return max;
}
