// Card "Top N confusions": the largest off-diagonal cells of the details
// panel's run and step, as the server's top_confusions route ranks them
// (tb_fmnist_plugin/metrics.py). Clicking one selects its cell.
import { formatCount, formatShare } from "../logic/format";
import { card, fillWhenLoaded, type CardContext } from "./card";
import { h, option } from "./dom";
import type { PanelView } from "./state";

const TOP_N_CHOICES = [5, 10, 20, 50];

export function topCard({ state, store, actions }: CardContext, v: PanelView, where: string): HTMLElement {
  const settings = state.settings;
  const n = h("select", { "aria-label": "How many confusions" });
  for (const k of TOP_N_CHOICES) n.appendChild(option(String(k), String(k), k === settings.topN));
  n.addEventListener("change", () => { settings.topN = Number(n.value); state.save(); actions.redrawDetails(); });
  const el = card("tbc-top", "Top confusions", "Top ", n, " confusions");
  el.appendChild(h("div", { class: "hint" }, `${where}${v.diff ? " (counts of B)" : ""}. Click one to see its examples.`));
  fillWhenLoaded(el, store.topConfusions(v.run, v.tag, v.step, settings.topN), "top confusions", ({ confusions }) => {
    if (confusions.length === 0) {
      el.appendChild(h("p", { class: "muted" }, "No off-diagonal cells: every example is classified correctly."));
      return;
    }
    const list = h("ol", { class: "confusions" });
    for (const c of confusions) {
      const b = h("button", { type: "button", "data-true-index": c.true, "data-pred-index": c.predicted },
        `${c.true_name} → ${c.predicted_name}: ${formatCount(c.count)}`);
      b.appendChild(h("span", { class: "muted" }, ` (${formatShare(c.row_share)} of ${c.true_name})`));
      b.addEventListener("click", () => { actions.selectCell(v, c.true, c.predicted); actions.focusCell(v, c.true, c.predicted); });
      list.appendChild(h("li", {}, b));
    }
    el.appendChild(list);
  });
  return el;
}
