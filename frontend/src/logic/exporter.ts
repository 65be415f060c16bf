// CSV and JSON export of the shown matrix.

export interface ExportView {
  run: string;
  tag: string;
  step: number | null;
  normalization: string;
  mode: "matrix" | "difference";
  description: string;
  classes: string[]; // shown classes, in order (rows and columns)
  values: number[][]; // shown values, rows = true, columns = predicted (NaN = undefined)
}

/** Quote a CSV field; a leading = + - @ is prefixed with ' so spreadsheets do not run it as a formula. */
export function csvField(text: string): string {
  let t = text;
  if (/^[=+\-@\t\r]/.test(t)) t = `'${t}`;
  if (/[",\r\n]/.test(t)) t = `"${t.replace(/"/g, '""')}"`;
  return t;
}

function csvNumber(v: number): string {
  return Number.isFinite(v) ? String(v) : "";
}

export function toCSV(view: ExportView): string {
  const lines = [["true \\ predicted", ...view.classes].map(csvField).join(",")];
  view.values.forEach((row, i) => {
    lines.push([csvField(view.classes[i]), ...row.map(csvNumber)].join(","));
  });
  return lines.join("\r\n") + "\r\n";
}

export function toJSON(view: ExportView): string {
  return JSON.stringify(
    {
      run: view.run,
      tag: view.tag,
      step: view.step,
      mode: view.mode,
      description: view.description,
      normalization: view.normalization,
      class_names: view.classes,
      matrix: view.values.map((row) => row.map((v) => (Number.isFinite(v) ? v : null))),
    },
    null,
    1,
  );
}

/** A file name safe on every OS, from run/tag/step. */
export function exportFileName(view: ExportView, ext: string): string {
  const base = `${view.run}_${view.tag}_${view.step ?? "x"}_${view.normalization}${view.mode === "difference" ? "_diff" : ""}`;
  return base.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._]+/, "").slice(0, 120) + "." + ext;
}
