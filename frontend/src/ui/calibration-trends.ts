// The calibration of one class over steps, next to its precision/recall/F1
// trend: its classwise ECE (with the whole set's top-label ECE; steps logged
// before classwise bins as the older per-true-class ECE, a line of its own)
// and its mean loss, from the calibration_series route.
import type { CalibrationSeries } from "../api";
import { classColumn } from "../logic/series";
import { fillWhenLoaded } from "./card";
import { lineChart, SERIES_COLOURS, type LineChart } from "./charts";
import { h } from "./dom";
import type { PanelView } from "./state";
import type { DataStore } from "./store";

/** A chart of `data` (a kept answer) to show: drawn by `build` once, kept by the caller (marker at the shown step). */
export type ShownChart = (data: object, key: string, build: () => LineChart) => HTMLElement;

export function calibrationTrends(store: DataStore, v: PanelView, cls: number, shown: ShownChart): HTMLElement {
  const box = h("div", { id: "tbc-calibration-trend", "data-class-index": cls });
  fillWhenLoaded(box, store.calibrationSeries(v.run, v.tag), "the calibration series", (s) => {
    const name = v.names[cls] ?? String(cls);
    box.appendChild(shown(s, `ece\u0000${cls}\u0000${name}\u0000${v.run}`, () => lineChart({
      title: `${name}: expected calibration error (run ${v.run})`, steps: s.steps, marker: v.step,
      series: [
        { name: `classwise ECE of ${name}`, values: classColumn(s.class_ece, cls), colour: SERIES_COLOURS[0] },
        ...(hasValues(s.true_class_ece ?? [], cls)
          ? [{ name: `ECE of true class ${name} (older definition)`, values: classColumn(s.true_class_ece, cls), colour: SERIES_COLOURS[3] }] : []),
        { name: "ECE of all classes (top-label)", values: s.ece, colour: SERIES_COLOURS[1] },
      ],
    })));
    if (hasLoss(s, cls)) {
      box.appendChild(shown(s, `loss\u0000${cls}\u0000${name}`, () => lineChart({
        title: `${name}: mean loss of its examples`, steps: s.steps, marker: v.step,
        series: [{ name: `loss of true class ${name}`, values: classColumn(s.class_loss, cls), colour: SERIES_COLOURS[2] }],
      })));
    }
  });
  return box;
}

function hasLoss(s: CalibrationSeries, cls: number): boolean {
  return hasValues(s.class_loss, cls);
}

/** Whether column `cls` of `rows` has a value at some step. */
function hasValues(rows: (number | null)[][], cls: number): boolean {
  return rows.some((row) => row && (row[cls] ?? null) !== null);
}
