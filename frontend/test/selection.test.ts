// Unit tests of the selection's pruning (src/logic/selection.ts): what no
// longer applies after switching tag, run or step is dropped, the rest kept.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cellFits, emptySelection, pruneSelection, type Selection, type Shown, type ShownPanel } from "../src/logic/selection";

const wide: ShownPanel = { run: "wide", classes: 60, diff: false };
const narrow: ShownPanel = { run: "narrow", classes: 10, diff: false };

function selected(): Selection {
  return { tag: "many", cell: { run: "wide", t: 46, p: 12 }, cls: 46, hovered: { run: "wide", t: 46, p: 47 } };
}

function shown(tag: string, panels: ShownPanel[], details: ShownPanel | null = panels[0] ?? null): Shown {
  return { tag, panels, details };
}

test("another tag clears the whole selection (its indices number other classes)", () => {
  assert.deepEqual(pruneSelection(selected(), shown("ten", [{ ...wide, classes: 10 }])), emptySelection("ten"));
  // even when the new tag has as many classes
  assert.deepEqual(pruneSelection(selected(), shown("other60", [wide])), emptySelection("other60"));
});

test("the same tag, run and classes keep everything (a step switch)", () => {
  assert.deepEqual(pruneSelection(selected(), shown("many", [wide, narrow])), selected());
});

test("a run no longer shown drops its cell; another details run drops the hovered cell", () => {
  const onlyNarrow = pruneSelection(selected(), shown("many", [{ ...narrow, classes: 60 }]));
  assert.equal(onlyNarrow.cell, null);
  assert.equal(onlyNarrow.hovered, null);
  assert.equal(onlyNarrow.cls, 46); // a class of the tag, and the details panel has it
  const detailsElsewhere = pruneSelection(selected(), shown("many", [wide, { ...narrow, classes: 60 }], { ...narrow, classes: 60 }));
  assert.deepEqual(detailsElsewhere.cell, selected().cell); // still a cell of a shown panel
  assert.equal(detailsElsewhere.hovered, null);
});

test("indices past the shown panel's classes are dropped (a step or run with fewer classes)", () => {
  assert.deepEqual(pruneSelection(selected(), shown("many", [{ ...wide, classes: 40 }])), emptySelection("many"));
  const p47 = pruneSelection(selected(), shown("many", [{ ...wide, classes: 47 }]));
  assert.deepEqual(p47, { tag: "many", cell: { run: "wide", t: 46, p: 12 }, cls: 46, hovered: null }); // p = 47 is out
});

test("a difference panel takes a cell of any run, in range", () => {
  const diff: ShownPanel = { run: "narrow", classes: 60, diff: true };
  assert.ok(cellFits({ run: "wide", t: 59, p: 0 }, diff));
  assert.ok(!cellFits({ run: "wide", t: 60, p: 0 }, diff));
  assert.ok(!cellFits({ run: "wide", t: 1, p: 0 }, { ...diff, diff: false }));
  assert.ok(!cellFits({ run: "narrow", t: -1, p: 0 }, { ...diff, diff: false }));
  assert.deepEqual(pruneSelection(selected(), shown("many", [diff])).cell, selected().cell);
});

test("no panel shown: cells go, the class of the tag stays", () => {
  const none = pruneSelection(selected(), shown("many", []));
  assert.deepEqual(none, { tag: "many", cell: null, cls: 46, hovered: null });
});
