// Unit tests of the diagnoses' pure logic: kinds of a listing, the compared
// set, the recall gap, reliability bins, and the new settings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { hasKind, nullableMatrix, pickSetA, recallGap, setName, trainTagOf } from "../src/logic/diagnostics";
import { formatSigned } from "../src/logic/format";
import { toRows } from "../src/logic/matrix";
import { binGap, maxCount, reliabilityBins } from "../src/logic/reliability";
import { DEFAULT_SETTINGS, parseSettings, serializeSettings } from "../src/logic/settings";

test("hasKind reads the tag's diagnostics listing; older files have none", () => {
  assert.equal(hasKind(["cell_confidence", "reliability"], "reliability"), true);
  assert.equal(hasKind(["reliability_bins"], "reliability"), false); // the route names kinds by tag suffix only
  assert.equal(hasKind(["reliability"], "suspects"), false);
  assert.equal(hasKind(undefined, "suspects"), false);
  assert.equal(hasKind(null, "label_issues"), false);
  assert.equal(hasKind([], "label_issues"), false);
});

test("the train tag replaces the last path segment; a train tag has none", () => {
  assert.equal(trainTagOf("confusion/test"), "confusion/train");
  assert.equal(trainTagOf("a/b/val"), "a/b/train");
  assert.equal(trainTagOf("test"), "train");
  assert.equal(trainTagOf("confusion/train"), null);
  assert.equal(setName("confusion/test"), "test");
  assert.equal(setName("plain"), "plain");
});

test("set A: the wanted tag, else the train tag, else another tag of the same classes", () => {
  const tags = [
    { tag: "confusion/test", classes: 10 }, { tag: "confusion/train", classes: 10 },
    { tag: "confusion/val", classes: 10 }, { tag: "confusion/many", classes: 60 },
  ];
  assert.equal(pickSetA("confusion/test", 10, tags), "confusion/train");
  assert.equal(pickSetA("confusion/test", 10, tags, "confusion/val"), "confusion/val");
  assert.equal(pickSetA("confusion/test", 10, tags, "confusion/many"), "confusion/train"); // other classes: not comparable
  assert.equal(pickSetA("confusion/train", 10, tags), "confusion/test");
  assert.equal(pickSetA("confusion/many", 60, tags), null);
  assert.equal(pickSetA("confusion/test", 10, [{ tag: "confusion/test", classes: 10 }]), null);
});

test("recall gap is train minus test, null when either is undefined", () => {
  assert.ok(Math.abs(recallGap(0.9, 0.75)! - 0.15) < 1e-12);
  assert.ok(recallGap(0.5, 0.75)! < 0);
  assert.equal(recallGap(null, 0.5), null);
  assert.equal(recallGap(0.5, undefined), null);
  assert.equal(recallGap(NaN, 0.5), null);
});

test("a gap is shown with its sign, a zero gap without", () => {
  assert.equal(formatSigned(0.12), "+0.120");
  assert.equal(formatSigned(-0.045), "−0.045");
  assert.equal(formatSigned(0), "0.000");
  assert.equal(formatSigned(1e-5), "0.000");
  assert.equal(formatSigned(null), "–");
  assert.equal(formatSigned(NaN), "–");
});

test("nullableMatrix puts NaN where a cell has no value", () => {
  const m = nullableMatrix([[0.9, null], [null, 0.5]]);
  const rows = toRows(m);
  assert.equal(rows[0][0], 0.9);
  assert.ok(Number.isNaN(rows[0][1]) && Number.isNaN(rows[1][0]));
  assert.throws(() => nullableMatrix([[1, 2], [3]]));
});

test("reliability bins: ranges, empty bins without values, shares, gaps", () => {
  const edges = [0, 0.25, 0.5, 0.75, 1];
  const bins = reliabilityBins(edges, { count: [0, 2, 6, 12], confidence: [null, 0.4, 0.6, 0.9], accuracy: [null, 0.5, 0.5, 0.75] });
  assert.equal(bins.length, 4);
  assert.deepEqual([bins[1].lo, bins[1].hi], [0.25, 0.5]);
  assert.equal(bins[0].confidence, null);
  assert.equal(bins[0].share, 0);
  assert.equal(bins[3].share, 12 / 20);
  assert.equal(maxCount(bins), 12);
  assert.ok(Math.abs(binGap(bins[3])! - 0.15) < 1e-12); // overconfident
  assert.ok(binGap(bins[1])! < 0); // underconfident
  assert.equal(binGap(bins[0]), null);
  assert.throws(() => reliabilityBins(edges, { count: [1, 2], confidence: [0.1, 0.2], accuracy: [0, 1] }));
  assert.throws(() => reliabilityBins([0], { count: [], confidence: [], accuracy: [] }));
});

test("settings remember the colour choice, ignore the removed suspects overlay, and reject junk", () => {
  assert.equal(DEFAULT_SETTINGS.colourBy, "count");
  assert.ok(!("suspectsOverlay" in DEFAULT_SETTINGS));
  // an old saved object with the overlay on still parses: the rest is kept, the overlay dropped
  const old = parseSettings(JSON.stringify({ ...DEFAULT_SETTINGS, colourBy: "confidence", norm: "true", suspectsOverlay: true }));
  assert.equal(old.colourBy, "confidence");
  assert.equal(old.norm, "true");
  assert.ok(!("suspectsOverlay" in old));
  assert.ok(!serializeSettings(old).includes("suspectsOverlay"));
  const bad = parseSettings(JSON.stringify({ colourBy: "<b>", suspectsOverlay: "yes" }));
  assert.equal(bad.colourBy, "count");
  assert.ok(!("suspectsOverlay" in bad));
});
