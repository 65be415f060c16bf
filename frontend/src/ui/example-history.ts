// The history strip of one example of the per-example record: its predicted
// class at every evaluation (right or wrong), a small chart of the
// probability of its given label over the steps, the shown step marked.
import type { ExampleHistory } from "../api";
import { formatProbability } from "../logic/format";
import { correctness } from "../logic/members";
import { lineChart, SERIES_COLOURS } from "./charts";
import { h } from "./dom";
import type { DataStore } from "./store";
import { thumbCanvas } from "./record-thumbs";

/** The strip of `history` (run, tag) with `step` marked; `close` clears the picked example. */
export function historyStrip(store: DataStore, run: string, tag: string, names: string[], history: ExampleHistory, step: number,
  close: () => void): HTMLElement {
  const name = (c: number | null) => (c === null ? "–" : names[c] ?? String(c));
  const closeBtn = h("button", { type: "button", id: "tbc-history-close", title: "Close the history (Escape)" }, "Close");
  closeBtn.addEventListener("click", close);
  const what = history.identity === "index" ? `dataset index ${history.index}` : `position ${history.index} in evaluation order`;
  const head = h("div", { class: "rec-history-head" });
  if (history.thumbnail) head.appendChild(thumbCanvas(store, run, tag, history.thumbnail, `Example ${history.index}`).el);
  head.append(h("strong", {}, `Example #${history.index}`), h("span", { class: "muted" }, `${what}, given class ${name(history.label)}`), closeBtn);
  const right = correctness(history);
  const chips = h("ol", { class: "rec-history-steps", "aria-label": "Predicted class at every step" });
  history.steps.forEach((s, i) => {
    const p = history.predicted[i];
    const state = right[i] === null ? "none" : right[i] ? "correct" : "wrong";
    chips.appendChild(h("li", {
      class: `rec-step ${state}${s === step ? " current" : ""}`, "data-step": s, "data-predicted": p === null ? "" : p,
      "aria-current": s === step ? "step" : null,
      title: `step ${s}: predicted ${name(p)} (${state === "none" ? "left out" : state}), p(given) ${formatProbability(history.p_given[i])}`,
    }, h("span", { class: "muted" }, String(s)), name(p)));
  });
  const chart = lineChart({
    title: `p(given = ${name(history.label)}) over steps`, steps: history.steps, marker: step, yMax: 1, width: 360, height: 120,
    series: [{ name: "p(given)", values: history.p_given, colour: SERIES_COLOURS[0] }],
  });
  return h("div", { class: "rec-history", id: "tbc-history", "data-index": history.index, "data-step": step }, head, chips, chart.el);
}
