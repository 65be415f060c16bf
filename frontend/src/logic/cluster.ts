// "Cluster" class order: mutually confused classes next to each other.
//
// Similarity of classes i and j: the share of class i's examples predicted as
// j plus the share of j's predicted as i (the off-diagonal errors, normalized
// by row so that large classes do not dominate, then symmetrised). Classes are
// joined by average-linkage agglomerative clustering (UPGMA, Sokal & Michener
// 1958: the similarity of two groups is the mean similarity of their pairs),
// computed with the nearest-neighbour chain algorithm (Benzécri 1982, Murtagh
// 1983) in O(n²) time and memory; the order is the dendrogram's leaf order, so
// every group merged before it meets another stays contiguous.
import type { Matrix } from "./matrix";

/** Symmetrised, row-normalised off-diagonal errors: S[i][j] = c[i][j]/row(i) + c[j][i]/row(j), 0 on the diagonal. */
export function confusionSimilarity(m: Matrix): Float64Array {
  const n = m.n, d = m.data;
  const s = new Float64Array(n * n);
  // rates by row, row-major
  for (let i = 0; i < n; i++) {
    const base = i * n;
    let row = 0;
    for (let j = 0; j < n; j++) { const v = d[base + j]; if (v > 0) row += v; }
    if (!(row > 0)) continue;
    const inv = 1 / row;
    for (let j = 0; j < n; j++) { const v = d[base + j]; if (v > 0 && j !== i) s[base + j] = v * inv; }
  }
  // symmetrise tile by tile (a 1,000-class transpose read column-wise would miss the cache on every cell)
  const TILE = 32;
  for (let bi = 0; bi < n; bi += TILE) {
    for (let bj = bi; bj < n; bj += TILE) {
      const iEnd = Math.min(n, bi + TILE), jEnd = Math.min(n, bj + TILE);
      for (let i = bi; i < iEnd; i++) {
        for (let j = bj === bi ? i + 1 : bj; j < jEnd; j++) {
          const v = s[i * n + j] + s[j * n + i];
          s[i * n + j] = v;
          s[j * n + i] = v;
        }
      }
    }
  }
  return s;
}

/** Class indices in average-linkage dendrogram leaf order of `similarity` (n x n, symmetric; overwritten). */
export function averageLinkageOrder(similarity: Float64Array, n: number): number[] {
  if (n <= 2) return Array.from({ length: n }, (_, i) => i);
  const s = similarity;
  const size = new Float64Array(n).fill(1);
  const active = new Uint8Array(n).fill(1);
  // each slot holds a cluster; a merge keeps the lower slot and records its two children as tree nodes
  const node = Array.from({ length: n }, (_, i) => i); // slot -> tree node
  const left: number[] = [], right: number[] = []; // tree node n + k -> children
  const chain: number[] = [];
  let remaining = n;
  let nextStart = 0;
  while (remaining > 1) {
    if (chain.length === 0) {
      while (!active[nextStart]) nextStart++;
      chain.push(nextStart);
    }
    const a = chain[chain.length - 1];
    const prev = chain.length >= 2 ? chain[chain.length - 2] : -1;
    // most similar active cluster; ties go to the previous chain element (so the chain ends), then to the lowest slot
    let best = prev, bestS = prev >= 0 ? s[a * n + prev] : -Infinity;
    const base = a * n;
    for (let c = 0; c < n; c++) {
      if (c === a || !active[c]) continue;
      const v = s[base + c];
      if (v > bestS) { bestS = v; best = c; }
    }
    if (best !== prev) { chain.push(best); continue; }
    // a and prev are reciprocal nearest neighbours: merge them
    chain.pop(); chain.pop();
    const keep = Math.min(a, prev), drop = Math.max(a, prev);
    const sk = size[keep], sd = size[drop], total = sk + sd;
    for (let c = 0; c < n; c++) {
      if (!active[c] || c === keep || c === drop) continue;
      const v = (sk * s[keep * n + c] + sd * s[drop * n + c]) / total;
      s[keep * n + c] = v;
      s[c * n + keep] = v;
    }
    left.push(node[keep]);
    right.push(node[drop]);
    node[keep] = n + left.length - 1;
    size[keep] = total;
    active[drop] = 0;
    remaining--;
  }
  // leaves left to right, without recursion
  const order: number[] = [];
  const stack = [node[active.indexOf(1)]];
  while (stack.length) {
    const t = stack.pop()!;
    if (t < n) { order.push(t); continue; }
    stack.push(right[t - n], left[t - n]);
  }
  return order;
}

const cache = new WeakMap<Float64Array, number[]>();
/** Whether the shown order is "Cluster" (set by orderClasses): only then are new matrices clustered ahead. */
let inUse = false;
/** Matrices of more classes than this are clustered ahead (a few ms and up); smaller ones when shown. */
const WARM_ABOVE = 40;

/** Whether the cluster order of `m` is computed and kept. */
export function hasClusterOrder(m: Matrix): boolean {
  return cache.has(m.data);
}

export function setClusterOrderInUse(yes: boolean): void {
  inUse = yes;
}

/** The store just loaded matrix `m` (store.ts loadedCounts; e.g. a step fetched ahead of the slider): while the
 * cluster order is in use, compute its order when the page is idle, so the step that shows it finds it ready. */
export function warmClusterOrder(m: Matrix): void {
  if (!inUse || m.n <= WARM_ABOVE) return;
  const g = globalThis as { requestIdleCallback?: (f: () => void) => unknown };
  const later = g.requestIdleCallback ? (f: () => void) => g.requestIdleCallback!(f) : (f: () => void) => setTimeout(f, 0);
  later(() => { if (inUse) clusterOrder(m); });
}

/** The "Cluster" order of matrix `m` (computed once per matrix, kept while the matrix is). */
export function clusterOrder(m: Matrix): number[] {
  const known = cache.get(m.data);
  if (known && known.length === m.n) return known;
  const order = averageLinkageOrder(confusionSimilarity(m), m.n);
  cache.set(m.data, order);
  return order;
}
