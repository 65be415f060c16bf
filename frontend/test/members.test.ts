// Unit tests of the per-example record's helpers (src/logic/members.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  correctness, exampleCellAt, nearestPoint, pageButtons, pageCount, pageLabel, pointsInRect, regionCounts, regionMembers, spanRect, tilePlace,
} from "../src/logic/members";

test("page labels and counts", () => {
  assert.equal(pageLabel(0, 48, 1234), "1-48 of 1,234");
  assert.equal(pageLabel(1200, 34, 1234), "1,201-1,234 of 1,234");
  assert.equal(pageLabel(0, 0, 0), "0 of 0");
  assert.equal(pageCount(0), 1);
  assert.equal(pageCount(48), 1);
  assert.equal(pageCount(49), 2);
});

test("page buttons keep the ends and the neighbours, with gaps", () => {
  assert.deepEqual(pageButtons(0, 1), [0]);
  assert.deepEqual(pageButtons(0, 3), [0, 1, 2]);
  assert.deepEqual(pageButtons(5, 20), [0, null, 3, 4, 5, 6, 7, null, 19]);
  assert.deepEqual(pageButtons(19, 20), [0, null, 17, 18, 19]);
});

test("a tile's page and pixel offset", () => {
  const g = { tile_width: 28, tile_height: 20, columns: 4, tiles_per_page: 16 };
  assert.deepEqual(tilePlace(0, g), { page: 0, x: 0, y: 0 });
  assert.deepEqual(tilePlace(6, g), { page: 0, x: 56, y: 20 });
  assert.deepEqual(tilePlace(21, g), { page: 1, x: 28, y: 20 });
});

test("an example's cell at a step, and its correctness", () => {
  const h = { label: 3, steps: [0, 5, 9], predicted: [1, 3, null] };
  assert.deepEqual(exampleCellAt(h, 0), [3, 1]);
  assert.deepEqual(exampleCellAt(h, 5), [3, 3]);
  assert.equal(exampleCellAt(h, 9), null); // left out
  assert.equal(exampleCellAt(h, 7), null); // not evaluated
  assert.deepEqual(correctness(h), [false, true, null]);
});

test("data map selections: rectangle, region, nearest point", () => {
  const xs = [0.1, 0.2, null, 0.4], ys = [0.9, 0.5, 0.5, 0.1];
  assert.deepEqual(pointsInRect(xs, ys, spanRect(0.25, 0, 0.05, 0.95)), [0, 1]);
  assert.deepEqual(pointsInRect(xs, ys, spanRect(0.4, 0.1, 0.4, 0.1)), [3]);
  assert.deepEqual(regionMembers([0, 1, 2, 1], 1), [1, 3]);
  assert.deepEqual(regionCounts([0, 1, 2, 1], 3), [1, 2, 1]);
  const id = (v: number) => v * 100;
  assert.equal(nearestPoint(xs, ys, id, id, 21, 49, 5), 1);
  assert.equal(nearestPoint(xs, ys, id, id, 70, 70, 5), -1);
});
