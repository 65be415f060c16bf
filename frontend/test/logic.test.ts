// Unit tests of the frontend's pure logic (node --test, after esbuild bundles them).
import { test } from "node:test";
import assert from "node:assert/strict";
import { diverging, prefersDarkText, rgbToOklab, sequential } from "../src/logic/colors";
import { csvField, exportFileName, toCSV, toJSON, type ExportView } from "../src/logic/exporter";
import { excludedRowsNotice, formatCell, formatCount, formatMetric, formatProbability, formatShare } from "../src/logic/format";
import {
  colourDomain, difference, fromRows, matchSubset, normalize, orderClasses, shownClasses, toRows, topConfusionClasses,
} from "../src/logic/matrix";
import { parseSettings, serializeSettings, DEFAULT_SETTINGS } from "../src/logic/settings";
import { nearestIndex, nearestStep, unionSteps } from "../src/logic/steps";

const M = fromRows([
  [8, 2, 0],
  [1, 5, 4],
  [0, 0, 0],
]);
const names = ["cat", "dog", "bird"];

test("normalize by true class, predicted class, total; zero denominators give NaN", () => {
  const t = toRows(normalize(M, "true"));
  assert.deepEqual(t[0], [0.8, 0.2, 0]);
  assert.deepEqual(t[1], [0.1, 0.5, 0.4]);
  assert.ok(t[2].every(Number.isNaN));
  const p = toRows(normalize(M, "pred"));
  assert.deepEqual([p[0][0], p[1][0]], [8 / 9, 1 / 9]);
  assert.deepEqual([p[0][2], p[1][2]], [0, 1]);
  const total = toRows(normalize(M, "total"));
  assert.equal(total[0][0], 8 / 20);
  assert.deepEqual(toRows(normalize(M, "counts")), toRows(M));
});

test("difference is B minus A and rejects mismatched sizes", () => {
  const B = fromRows([[9, 1, 0], [1, 6, 3], [0, 0, 2]]);
  assert.deepEqual(toRows(difference(M, B)), [[1, -1, 0], [0, 1, -1], [0, 0, 2]]);
  assert.throws(() => difference(M, fromRows([[1]])));
});

test("fromRows rejects ragged input", () => {
  assert.throws(() => fromRows([[1, 2], [3]]));
});

test("class ordering: original, by error, alphabetical", () => {
  assert.deepEqual(orderClasses(M, names, "original"), [0, 1, 2]);
  assert.deepEqual(orderClasses(M, names, "error"), [1, 0, 2]);
  assert.deepEqual(orderClasses(M, names, "alpha"), [2, 0, 1]);
});

test("filtering: subset by exact name or part of a name, top-k most confused", () => {
  assert.deepEqual(Array.from(matchSubset(names, " DOG ,bi")!).sort(), [1, 2]);
  assert.equal(matchSubset(names, " , "), null);
  // the two largest off-diagonal cells are dog->bird (4) and cat->dog (2): all three ends
  assert.deepEqual(Array.from(topConfusionClasses(M, 2)).sort(), [0, 1, 2]);
  assert.deepEqual(Array.from(topConfusionClasses(M, 1)).sort(), [1, 2]);
  assert.deepEqual(shownClasses(M, names, "alpha", "", 1), [2, 1]);
  assert.deepEqual(shownClasses(M, names, "error", "cat,dog", 0), [1, 0]);
});

test("colour domain ignores the diagonal when hidden", () => {
  assert.equal(colourDomain(M, [0, 1, 2], false), 8);
  assert.equal(colourDomain(M, [0, 1, 2], true), 4);
  assert.equal(colourDomain(fromRows([[0, -7], [2, 0]]), [0, 1], true), 7);
});

test("nearest step per run, union of steps", () => {
  assert.deepEqual(unionSteps([[0, 2, 4], [1, 2], []]), [0, 1, 2, 4]);
  assert.equal(nearestStep([0, 2, 4], 3), 2); // tie: the earlier step
  assert.equal(nearestStep([0, 2, 5], 4), 5);
  assert.equal(nearestStep([10, 20], 0), 10);
  assert.equal(nearestStep([10, 20], 99), 20);
  assert.equal(nearestStep([], 3), null);
  assert.equal(nearestIndex([0, 5, 10], 6), 1);
});

test("display formatting", () => {
  assert.equal(formatCell(12, "counts", false), "12");
  assert.equal(formatCell(3, "counts", true), "+3");
  assert.equal(formatCell(-3, "counts", true), "-3");
  assert.equal(formatCell(0.1234, "true", false), "12.3");
  assert.equal(formatCell(1, "true", false), "100");
  assert.equal(formatCell(NaN, "true", false), "–");
  assert.equal(formatShare(0.5), "50.0%");
  assert.equal(formatMetric(null), "–");
  assert.equal(formatMetric(0.91234), "0.912");
  // never "-0.0" (a tiny negative difference, or -0 itself)
  assert.equal(formatCell(-0.0004, "true", true), "0");
  assert.equal(formatCell(-0.0004, "true", false), "0");
  assert.equal(formatCell(0.0004, "true", true), "0");
  assert.equal(formatCell(-0, "counts", true), "0");
  assert.equal(formatCell(-0.2, "counts", true), "0");
  assert.equal(formatCell(-0.0123, "true", true), "-1.2");
  assert.equal(formatShare(-0.00001), "0.0%");
  assert.equal(formatMetric(-0.0001), "0.000");
  assert.equal(formatCount(-0.3), "0");
  assert.equal(formatProbability(0.1314), "0.13");
  assert.equal(formatProbability(-0.001), "0.00");
  for (const v of [-1e-9, -0.0004, -0.04, -0.00049]) {
    for (const text of [formatCell(v, "true", true), formatCell(v, "pred", false), formatShare(v), formatMetric(v), formatProbability(v / 100)]) {
      assert.ok(!/^-0(\.0*)?%?$/.test(text), text);
    }
  }
});

test("the notice of rows left out names the hooks' scalar only for their tags", () => {
  assert.equal(excludedRowsNotice({ run: "<b>r</b>", tag: "confusion/val", step: 4, rows: 3, evaluated: 103 }),
    "Run “<b>r</b>”, step 4: 3 of 103 evaluated rows had NaN logits and are left out of this matrix and its metrics (scalar nonfinite/val).");
  assert.match(excludedRowsNotice({ run: "r", tag: "mine", step: 0, rows: 1, evaluated: 2 }), /its metrics\.$/);
});

test("CSV and JSON export of the shown matrix", () => {
  const view: ExportView = {
    run: "run/1", tag: "confusion/test", step: 3, normalization: "true", mode: "matrix", description: "",
    classes: ['a,b', 'say "hi"', "=cmd()"], values: [[1, 0.5, NaN], [0, 1, 0], [0.25, 0, 1]],
  };
  assert.equal(toCSV(view), 'true \\ predicted,"a,b","say ""hi""",\'=cmd()\r\n"a,b",1,0.5,\r\n"say ""hi""",0,1,0\r\n\'=cmd(),0.25,0,1\r\n');
  const json = JSON.parse(toJSON(view));
  assert.deepEqual(json.matrix[0], [1, 0.5, null]);
  assert.deepEqual(json.class_names, view.classes);
  assert.equal(csvField("-1"), "'-1");
  assert.equal(exportFileName(view, "csv"), "run_1_confusion_test_3_true.csv");
});

test("settings: defaults, validation, round trip", () => {
  assert.deepEqual(parseSettings(null), DEFAULT_SETTINGS);
  assert.deepEqual(parseSettings("{not json"), DEFAULT_SETTINGS);
  const s = parseSettings('{"norm":"pred","hideDiagonal":true,"order":"bogus","topK":-1,"runs":["a",1],"step":4}');
  assert.equal(s.norm, "pred");
  assert.equal(s.hideDiagonal, true);
  assert.equal(s.order, "original");
  assert.equal(s.topK, 0);
  assert.equal(s.runs, null);
  assert.equal(s.step, 4);
  assert.deepEqual(parseSettings(serializeSettings(s)), s);
});

test("colour scales: viridis lightness increases monotonically; diverging is symmetric and neutral at 0", () => {
  let last = -1;
  for (let i = 0; i <= 20; i++) {
    const L = rgbToOklab(sequential(i / 20))[0];
    assert.ok(L > last, `viridis lightness not increasing at ${i}`);
    last = L;
  }
  assert.deepEqual(sequential(0), [0x44, 0x01, 0x54]);
  assert.deepEqual(sequential(1), [0xfd, 0xe7, 0x25]);
  const mid = diverging(0);
  assert.ok(Math.abs(mid[0] - mid[1]) < 3 && Math.abs(mid[1] - mid[2]) < 3);
  for (const t of [0.25, 0.5, 1]) {
    const a = rgbToOklab(diverging(-t))[0], b = rgbToOklab(diverging(t))[0];
    assert.ok(Math.abs(a - b) < 0.03, `lightness asymmetric at ${t}: ${a} vs ${b}`);
  }
  assert.equal(prefersDarkText(sequential(1)), true);
  assert.equal(prefersDarkText(sequential(0)), false);
});
