// Unit tests of the run table's pure parts (src/logic/run-filter.ts,
// src/logic/run-colors.ts): filtering, sorting, default selection, counts, colours.
import { test } from "node:test";
import assert from "node:assert/strict";
import { compileFilter, countsLine, filterRows, mostRecent, panelCapNotice, sortRows, type RunRow } from "../src/logic/run-filter";
import { RUN_PALETTE, runColours } from "../src/logic/run-colors";

function row(name: string, accuracy: number | null, recall: (number | null)[] | null = null, lastWall = 0): RunRow {
  return { name, lower: name.toLowerCase(), lastWall, accuracy, worstRecall: null, worstClass: null, ece: null, recall };
}

const rows = [row("lr=0.1/Adam", 0.9, [0.5, 0.7]), row("lr=0.01/SGD", 0.8, [0.9, null]), row("baseline", null, null), row("LR=1/sgd", 0.7, [0.2, 0.1])];
const names = (rs: RunRow[]) => rs.map((r) => r.name);

test("a substring filter ignores case", () => {
  assert.deepEqual(names(filterRows(rows, compileFilter("sgd", false))), ["lr=0.01/SGD", "LR=1/sgd"]);
  assert.deepEqual(names(filterRows(rows, compileFilter("lr=0.", false))), ["lr=0.1/Adam", "lr=0.01/SGD"]);
  // regex characters are literal without the toggle
  assert.deepEqual(names(filterRows(rows, compileFilter("lr=.*sgd", false))), []);
  assert.equal(filterRows(rows, compileFilter("", false)).length, 4);
});

test("a regular expression filter ignores case; an invalid one says so and filters nothing", () => {
  assert.deepEqual(names(filterRows(rows, compileFilter("^lr=0\\.0?1/", true))), ["lr=0.1/Adam", "lr=0.01/SGD"]);
  assert.deepEqual(names(filterRows(rows, compileFilter("sgd$", true))), ["lr=0.01/SGD", "LR=1/sgd"]);
  const bad = compileFilter("lr=(", true);
  assert.match(bad.error ?? "", /^Invalid regular expression: .+Showing every run\.$/);
  assert.equal(filterRows(rows, bad).length, 4);
});

test("sorting by a number puts unknown values last both ways, ties by name", () => {
  assert.deepEqual(names(sortRows(rows, { key: "accuracy", descending: true })), ["lr=0.1/Adam", "lr=0.01/SGD", "LR=1/sgd", "baseline"]);
  assert.deepEqual(names(sortRows(rows, { key: "accuracy", descending: false })), ["LR=1/sgd", "lr=0.01/SGD", "lr=0.1/Adam", "baseline"]);
  assert.deepEqual(names(sortRows(rows, { key: "class", descending: true }, 0)), ["lr=0.01/SGD", "lr=0.1/Adam", "LR=1/sgd", "baseline"]);
  assert.deepEqual(names(sortRows(rows, { key: "class", descending: false }, 1)), ["LR=1/sgd", "lr=0.1/Adam", "baseline", "lr=0.01/SGD"]);
  assert.deepEqual(names(sortRows(rows, { key: "name", descending: true })), ["lr=0.1/Adam", "lr=0.01/SGD", "baseline", "LR=1/sgd"]);
  const tied = [row("b", 0.5), row("a", 0.5)];
  assert.deepEqual(names(sortRows(tied, { key: "accuracy", descending: true })), ["a", "b"]);
});

test("the default selection is the most recent runs, listed by name", () => {
  const timed = [row("a", 0, null, 5), row("b", 0, null, 50), row("c", 0, null, 40), row("d", 0, null, 1), row("e", 0, null, 45)];
  assert.deepEqual(mostRecent(timed, 3), ["b", "c", "e"]);
  assert.deepEqual(mostRecent(timed.slice(0, 2), 4), ["a", "b"]);
});

test("the counts line groups thousands", () => {
  assert.equal(countsLine(12, 1000, 4), "12 of 1,000 runs shown, 4 selected");
  assert.equal(countsLine(1, 1, 0), "1 of 1 run shown, 0 selected");
});

test("a run's colour depends only on its place among all runs", () => {
  const all = runColours(["c", "a", "b", "a"]);
  assert.deepEqual([...all.entries()], [["a", RUN_PALETTE[0]], ["b", RUN_PALETTE[1]], ["c", RUN_PALETTE[2]]]);
  // the same whatever order the runs come in
  assert.deepEqual(runColours(["b", "c", "a"]), all);
  const many = runColours(Array.from({ length: 30 }, (_, i) => `run${String(i).padStart(2, "0")}`));
  assert.equal(many.get("run12"), RUN_PALETTE[0]);
  assert.equal(new Set(RUN_PALETTE).size, RUN_PALETTE.length);
});

test("the notice when only some ticked runs get a panel", () => {
  assert.ok(panelCapNotice(1000, 24).startsWith("Showing the matrices of 24 of the 1,000 ticked runs; the first 24 in the run table's order."));
});
