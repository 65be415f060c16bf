// Unit tests of the thinning of long series for charts (logic/thin.ts) and of
// picking one class's values out of a series answer (logic/series.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { classColumn } from "../src/logic/series";
import { thinLine, type Point } from "../src/logic/thin";

/** `n` x positions spread evenly over `width` pixels. */
const spread = (n: number, width: number) => Array.from({ length: n }, (_, i) => (i / (n - 1)) * width);

test("thinLine keeps a series with at most one point per pixel column whole", () => {
  const xs = [0, 1, 2.5, 3.2, 7];
  const ys = [0.1, 0.5, 0.3, 0.9, 0];
  assert.deepEqual(thinLine(xs, ys), [xs.map((x, i) => ({ x, y: ys[i] }))]);
});

test("thinLine keeps per pixel column the lowest and highest point, in step order", () => {
  // column 0: 0.5, 0.2 (low), 0.9 (high), 0.4; column 1: 0.7 (high), 0.1 (low); column 2: 0.3 three times
  const xs = [0, 0.2, 0.4, 0.8, 1.1, 1.5, 2, 2.3, 2.6];
  const ys = [0.5, 0.2, 0.9, 0.4, 0.7, 0.1, 0.3, 0.3, 0.3];
  assert.deepEqual(thinLine(xs, ys), [[
    { x: 0.2, y: 0.2 }, { x: 0.4, y: 0.9 }, { x: 1.1, y: 0.7 }, { x: 1.5, y: 0.1 }, { x: 2, y: 0.3 },
  ]]);
});

test("thinLine brings 5,000 steps down to at most 2 points per column and keeps every spike", () => {
  const n = 5000, width = 78;
  const ys = Array.from({ length: n }, (_, i) => 0.5 + 0.3 * Math.sin(i / 50));
  ys[1234] = 1; // a one-step spike
  ys[4321] = 0; // a one-step dip
  const xs = spread(n, width);
  const [line, ...more] = thinLine(xs, ys);
  assert.equal(more.length, 0);
  assert.ok(line.length <= 2 * (width + 1), `${line.length} points`);
  assert.ok(line.some((p) => p.y === 1 && p.x === xs[1234]));
  assert.ok(line.some((p) => p.y === 0 && p.x === xs[4321]));
  // x ascending, and per column the thinned range is the full range
  for (let i = 1; i < line.length; i++) assert.ok(line[i].x >= line[i - 1].x);
  const range = (pts: Point[], c: number) => {
    const inCol = pts.filter((p) => Math.floor(p.x) === c).map((p) => p.y);
    return [Math.min(...inCol), Math.max(...inCol)];
  };
  const full = xs.map((x, i) => ({ x, y: ys[i] }));
  for (let c = 0; c <= width; c++) assert.deepEqual(range(line, c), range(full, c), `column ${c}`);
});

test("thinLine: gaps (null, NaN, infinite) are skipped, or break the line with breakAtGaps", () => {
  const xs = [0, 1, 2, 3, 4, 5, 6];
  const ys = [0.1, null, 0.3, NaN, Infinity, 0.6, 0.7];
  assert.deepEqual(thinLine(xs, ys), [[{ x: 0, y: 0.1 }, { x: 2, y: 0.3 }, { x: 5, y: 0.6 }, { x: 6, y: 0.7 }]]);
  assert.deepEqual(thinLine(xs, ys, true), [[{ x: 0, y: 0.1 }], [{ x: 2, y: 0.3 }], [{ x: 5, y: 0.6 }, { x: 6, y: 0.7 }]]);
  // a gap inside one pixel column splits that column's points too
  assert.deepEqual(thinLine([0, 0.3, 0.5, 0.7], [0.2, 0.8, null, 0.5], true), [[{ x: 0, y: 0.2 }, { x: 0.3, y: 0.8 }], [{ x: 0.7, y: 0.5 }]]);
});

test("thinLine of nothing, of only gaps, and of more values than positions", () => {
  assert.deepEqual(thinLine([], []), []);
  assert.deepEqual(thinLine([0, 1], [null, null], true), []);
  assert.deepEqual(thinLine([0, 1], [0.5, 0.6, 0.7]), [[{ x: 0, y: 0.5 }, { x: 1, y: 0.6 }]]);
});

test("classColumn picks a class's values from whole rows or from the columns asked for", () => {
  const rows = [[0.1, 0.2, 0.3], [0.4, null, 0.6]];
  assert.deepEqual(classColumn(rows, 1), [0.2, null]);
  assert.deepEqual(classColumn([[0.9, 0.8], [0.7, 0.6]], 17, [5, 17]), [0.8, 0.6]);
  assert.deepEqual(classColumn([[0.9], [0.7]], 3, [5]), [null, null]); // not among the columns
  assert.deepEqual(classColumn(undefined, 0), []); // a field not asked for
  assert.deepEqual(classColumn([[0.5], [0.4]], 4), [null, null]); // out of range
});
