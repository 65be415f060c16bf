// Unit tests of the large-matrix logic: the "Cluster" order, the pixel
// aggregation of the overview, top-k confusions with their partners.
import { test } from "node:test";
import assert from "node:assert/strict";
import { averageLinkageOrder, clusterOrder, confusionSimilarity, hasClusterOrder, warmClusterOrder } from "../src/logic/cluster";
import { fromRows, orderClasses, shownClasses, topConfusionClasses, type Matrix } from "../src/logic/matrix";
import { scalePosition } from "../src/logic/colors";
import { aggregateMax, clampWindow, colourPixels, EMPTY_PIXEL, packedLut } from "../src/logic/pixels";

/** A seeded pseudo-random generator (mulberry32), so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle(xs: number[], rand: () => number): number[] {
  const out = xs.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** n classes, mostly correct, sparse small noise, and `block` classes confused with each other. */
function planted(n: number, block: number[], rand: () => number): Matrix {
  const data = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    data[i * n + i] = 50;
    for (let e = 0; e < 2; e++) data[i * n + Math.floor(rand() * n)] += rand() < 0.5 ? 1 : 0;
  }
  for (const a of block) for (const b of block) if (a !== b) data[a * n + b] += 4 + Math.floor(rand() * 3);
  return { n, data };
}

function contiguous(order: number[], members: number[]): boolean {
  const pos = members.map((c) => order.indexOf(c));
  return Math.max(...pos) - Math.min(...pos) === members.length - 1;
}

test("similarity: symmetrised row-normalised off-diagonal errors", () => {
  const m = fromRows([[8, 2, 0], [1, 5, 4], [0, 0, 0]]);
  const s = confusionSimilarity(m);
  assert.equal(s[0 * 3 + 1], 2 / 10 + 1 / 10);
  assert.equal(s[1 * 3 + 0], s[0 * 3 + 1]);
  assert.equal(s[1 * 3 + 2], 4 / 10);
  assert.equal(s[0], 0);
});

test("cluster order: two planted groups in a permuted 12-class matrix come out contiguous", () => {
  const groups = [[0, 5, 9, 2], [3, 11, 7]];
  const m = planted(12, [], rng(1));
  for (const g of groups) for (const a of g) for (const b of g) if (a !== b) m.data[a * 12 + b] = 10;
  const order = averageLinkageOrder(confusionSimilarity(m), 12);
  assert.deepEqual(order.slice().sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i));
  for (const g of groups) assert.ok(contiguous(order, g), `${g} in ${order}`);
});

test("cluster order: a 20-class block scattered over 1,000 classes is contiguous, in well under 300 ms", () => {
  const rand = rng(7);
  const n = 1000;
  const block = shuffle(Array.from({ length: n }, (_, i) => i), rand).slice(0, 20);
  const m = planted(n, block, rand);
  const start = performance.now();
  const order = clusterOrder(m);
  const ms = performance.now() - start;
  assert.equal(new Set(order).size, n);
  assert.ok(contiguous(order, block), `block positions ${block.map((c) => order.indexOf(c)).sort((a, b) => a - b)}`);
  assert.ok(ms < 300, `clustering 1,000 classes took ${ms.toFixed(0)} ms`);
  // kept per matrix: the same order again at once, and as the shown order
  assert.equal(clusterOrder(m), order);
  assert.deepEqual(shownClasses(m, [], "cluster", "", 0), order);
});

test("cluster order of tiny and error-free matrices keeps every class", () => {
  assert.deepEqual(clusterOrder(fromRows([[1]])), [0]);
  assert.deepEqual(clusterOrder(fromRows([[1, 0, 0], [0, 1, 0], [0, 0, 1]])).sort(), [0, 1, 2]);
});

test("pixels: each pixel is the largest cell it covers, none sampled away", () => {
  // 4 classes into 2x2 pixels; the lone 7 survives, the -3 outweighs the 1 beside it
  const m = fromRows([[9, 0, 0, 0], [0, 9, 0, 7], [1, 0, 9, 0], [0, -3, 0, 9]]);
  const shown = [0, 1, 2, 3];
  const win = clampWindow(4, 0, 0, 4, 2);
  assert.deepEqual(Array.from(aggregateMax(m, shown, win, false)), [9, 7, -3, 9]);
  // diagonal skipped: the other cells of those pixels; a pixel with no cell left is NaN
  assert.deepEqual(Array.from(aggregateMax(m, shown, win, true)), [0, 7, -3, 0]);
  assert.ok(Number.isNaN(aggregateMax(fromRows([[5]]), [0], clampWindow(1, 0, 0, 1, 1), true)[0]));
  const nan = fromRows([[1, 2], [3, 4]]);
  nan.data[1] = NaN;
  assert.deepEqual(Array.from(aggregateMax(nan, [0, 1], clampWindow(2, 0, 0, 2, 2), true)), [NaN, NaN, 3, NaN]);
  assert.equal(aggregateMax(fromRows([[0, -4], [3, 0]]), [0, 1], clampWindow(2, 0, 0, 2, 1), true)[0], -4);
});

test("pixels: a window follows the shown order, is clamped, and never has more pixels than cells", () => {
  const m = fromRows([[1, 2, 3], [4, 5, 6], [7, 8, 9]]);
  const win = clampWindow(3, 5, 1, 2, 10); // past the end: clamped to rows 1-2, columns 1-2
  assert.deepEqual(win, { r0: 1, c0: 1, span: 2, px: 2 });
  assert.deepEqual(Array.from(aggregateMax(m, [2, 1, 0], win, false)), [5, 4, 2, 1]);
  // 1,000 classes into 300 pixels: the max of all cells is in the picture
  const n = 1000, big = new Float64Array(n * n);
  big[123 * n + 877] = 42;
  const shown = Array.from({ length: n }, (_, i) => i);
  const px = aggregateMax({ n, data: big }, shown, clampWindow(n, 0, 0, n, 300), false);
  assert.equal(px.length, 300 * 300);
  assert.equal(px[Math.floor((123 * 300) / n) * 300 + Math.floor((877 * 300) / n)], 42);
  assert.equal(px.reduce((a, b) => a + b, 0), 42);
});

test("top-k: the classes of the k largest off-diagonal cells, both ends", () => {
  const n = 6;
  const m = fromRows([
    [9, 0, 0, 0, 0, 8],
    [0, 9, 0, 0, 0, 0],
    [0, 5, 9, 0, 0, 0],
    [0, 0, 0, 9, 1, 0],
    [0, 0, 0, 0, 9, 0],
    [0, 0, 0, 0, 0, 9],
  ]);
  assert.deepEqual([...topConfusionClasses(m, 1)].sort(), [0, 5]);
  assert.deepEqual([...topConfusionClasses(m, 2)].sort(), [0, 1, 2, 5]);
  assert.deepEqual([...topConfusionClasses(m, 10)].sort(), [0, 1, 2, 3, 4, 5]); // only non-zero cells count
  assert.deepEqual(shownClasses(m, Array.from({ length: n }, (_, i) => `c${i}`), "original", "", 2), [0, 1, 2, 5]);
  assert.equal(topConfusionClasses(m, 0).size, 0);
});

test("pixels: colours from a packed table, ends clamped, NaN faint grey", () => {
  const table = packedLut(new Uint8Array([0, 0, 0, 10, 20, 30, 255, 255, 255]));
  assert.equal(table[1], (255 << 24 | 30 << 16 | 20 << 8 | 10) >>> 0);
  const out = new Uint32Array(5);
  colourPixels(Float64Array.from([0, 5, 10, 99, NaN]), out, table, 10, false, false);
  assert.deepEqual(Array.from(out), [table[0], table[1], table[2], table[2], EMPTY_PIXEL]);
  colourPixels(Float64Array.from([-4, 0, 4]), out, table, 4, true, false); // diverging: the middle entry for 0
  assert.deepEqual(Array.from(out.subarray(0, 3)), [table[0], table[1], table[2]]);
  // log scale: a tenth of the top is past the middle (0.52 of the way)
  colourPixels(Float64Array.from([0, 1, 10]), out, table, 10, false, true);
  assert.deepEqual(Array.from(out.subarray(0, 3)), [table[0], table[1], table[2]]);
});

test("cluster order in use: a large matrix loaded ahead is warmed in idle time; fromRows alone is pure", async () => {
  const rand = rng(3);
  const n = 60;
  const rows = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 20 : rand() < 0.05 ? 1 : 0)));
  orderClasses(fromRows([[1]]), [], "original");
  const ignored = fromRows(rows);
  warmClusterOrder(ignored); // not in use: nothing scheduled
  orderClasses(fromRows([[1]]), [], "cluster");
  const parsed = fromRows(rows); // parsing only (no store): not warmed
  const warmed = fromRows(rows);
  warmClusterOrder(warmed); // what the store does with each matrix it loads
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(hasClusterOrder(warmed), true);
  assert.equal(hasClusterOrder(ignored), false);
  assert.equal(hasClusterOrder(parsed), false);
  assert.equal(clusterOrder(warmed).length, n);
  orderClasses(fromRows([[1]]), [], "original");
});

test("log colour scale: 0 stays 0, the top stays 1, two decades spread out, sign kept", () => {
  assert.equal(scalePosition(0, 10, true), 0);
  assert.equal(scalePosition(10, 10, true), 1);
  assert.equal(scalePosition(20, 10, true), 1);
  assert.ok(Math.abs(scalePosition(1, 10, true) - Math.log1p(10) / Math.log1p(100)) < 1e-12);
  assert.ok(scalePosition(0.1, 10, true) > 0.14 && scalePosition(0.1, 10, true) < 0.16);
  assert.equal(scalePosition(-10, 10, true), -1);
  assert.equal(scalePosition(5, 10, false), 0.5);
  assert.equal(scalePosition(NaN, 10, true), 0);
  assert.equal(scalePosition(3, 0, true), 0);
});
