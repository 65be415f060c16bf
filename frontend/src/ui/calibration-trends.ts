// The calibration of one class over steps, next to its precision/recall/F1
// trend: its ECE (with the whole set's) and its mean loss, from the
// calibration_series route.
import { fillWhenLoaded } from "./card";
import { lineChart, SERIES_COLOURS } from "./charts";
import { h } from "./dom";
import type { PanelView } from "./state";
import type { DataStore } from "./store";

export function calibrationTrends(store: DataStore, v: PanelView, cls: number): HTMLElement {
  const box = h("div", { id: "tbc-calibration-trend", "data-class-index": cls });
  fillWhenLoaded(box, store.calibrationSeries(v.run, v.tag), "the calibration series", (s) => {
    const name = v.names[cls] ?? String(cls);
    const pick = (rows: (number | null)[][]) => rows.map((row) => (row ? row[cls] ?? null : null));
    box.appendChild(lineChart({
      title: `${name}: expected calibration error (run ${v.run})`, steps: s.steps, marker: v.step,
      series: [
        { name: `ECE of true class ${name}`, values: pick(s.class_ece), colour: SERIES_COLOURS[0] },
        { name: "ECE of all classes", values: s.ece, colour: SERIES_COLOURS[1] },
      ],
    }));
    const loss = pick(s.class_loss);
    if (loss.some((x) => x !== null)) {
      box.appendChild(lineChart({
        title: `${name}: mean loss of its examples`, steps: s.steps, marker: v.step,
        series: [{ name: `loss of true class ${name}`, values: loss, colour: SERIES_COLOURS[2] }],
      }));
    }
  });
  return box;
}
