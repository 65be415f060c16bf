// Unit tests of how the tab names a matrix's counts and mean IoU for dense
// tasks (logic/units.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { countUnit, countWithUnit, isDense, meanIouText, normUnitText, sharedUnit } from "../src/logic/units";

test("countUnit keeps pixels and tokens and reads anything else as examples", () => {
  assert.equal(countUnit("pixels"), "pixels");
  assert.equal(countUnit("tokens"), "tokens");
  for (const other of [undefined, null, "", "examples", "voxels", "Pixels"]) assert.equal(countUnit(other), "examples");
});

test("isDense is true only for position units", () => {
  assert.deepEqual(["pixels", "tokens", "examples", undefined].map(isDense), [true, true, false, false]);
});

test("countWithUnit says the unit, singular for one", () => {
  assert.equal(countWithUnit(1, "pixels"), "1 pixel");
  assert.equal(countWithUnit(6442450951, "pixels"), "6442450951 pixels");
  assert.equal(countWithUnit(0, "tokens"), "0 tokens");
  assert.equal(countWithUnit(2, undefined), "2 examples");
});

test("meanIouText is shown for dense tags with a value only", () => {
  assert.equal(meanIouText("pixels", 0.5), "mean IoU 0.500");
  assert.equal(meanIouText("tokens", null), "mean IoU –");
  assert.equal(meanIouText("examples", 0.5), "");
  assert.equal(meanIouText("pixels", undefined), "");
});

test("sharedUnit names the colour bar's unit only when every panel has it", () => {
  assert.equal(sharedUnit(["pixels", "pixels"]), "pixels");
  assert.equal(sharedUnit(["pixels", undefined]), "examples");
  assert.equal(sharedUnit([]), "examples");
});

test("normUnitText renames examples and leaves the other normalizations alone", () => {
  assert.equal(normUnitText("examples", "pixels"), "pixels");
  assert.equal(normUnitText("% of all examples", "tokens"), "% of all tokens");
  assert.equal(normUnitText("% of the true class", "pixels"), "% of the true class");
  assert.equal(normUnitText("% of all examples", "examples"), "% of all examples");
});
