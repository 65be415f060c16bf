// The run table (issue 18): one row per run that has the tag, with its
// checkbox, colour, name and numbers at the last step (from the listing's
// `summaries`), a filter (substring or regular expression), sorting by any
// column, and select all / none / the filtered. Only the rows in view are in
// the DOM, so 1,000 runs cost what 20 do; a keystroke in the filter only
// filters precomputed lower-case names and renders those rows.
import type { RunSummary } from "../api";
import { runColours } from "../logic/run-colors";
import { compileFilter, countsLine, filterRows, percent, sortRows, type RunRow, type Sort, type SortKey } from "../logic/run-filter";
import { clear, h, option } from "./dom";
import { MAX_PANELS, type Actions, type TabState } from "./state";

/** Height of one row in CSS pixels (the stylesheet's `.run-row`). */
const ROW_HEIGHT = 24;
/** Rows rendered above and below the visible ones. */
const OVERSCAN = 8;
/** Visible height assumed until the table is laid out (the stylesheet's largest `.run-rows` height). */
const FALLBACK_HEIGHT = 480;

const COLUMNS: { key: SortKey; label: string; title: string }[] = [
  { key: "name", label: "Run", title: "Sort by run name" },
  { key: "accuracy", label: "Acc.", title: "Sort by accuracy at the last step" },
  { key: "worst", label: "Worst class", title: "Sort by the lowest recall of any class at the last step" },
  { key: "ece", label: "ECE", title: "Sort by expected calibration error at the last step (runs that log calibration)" },
  { key: "class", label: "Class", title: "Sort by the recall of the class picked below" },
];

export class RunTable {
  readonly el: HTMLElement;
  private filterInput = h("input", { type: "search", id: "tbc-run-filter", placeholder: "Filter runs", "aria-label": "Filter runs (substring, or a regular expression when .* is on)" });
  private regexBox = h("input", { type: "checkbox", id: "tbc-run-regex" });
  private errorEl = h("div", { class: "notice error", id: "tbc-run-filter-error", role: "alert", hidden: true });
  private countsEl = h("div", { class: "muted", id: "tbc-run-counts", "aria-live": "polite" });
  private noteEl = h("div", { class: "hint", id: "tbc-run-default-note", hidden: true });
  private classSelect = h("select", { id: "tbc-run-class", "aria-label": "Class of the Class column" });
  private headButtons = new Map<SortKey, HTMLButtonElement>();
  private scroller = h("div", { class: "run-rows", id: "tbc-run-rows", role: "list" });
  private body = h("div", { class: "run-rows-body" });
  private rows: RunRow[] = [];
  private shown: RunRow[] = [];
  /** Every run's place in the table's sort (filter aside), computed when first asked after a change. */
  private places: Map<string, number> | null = null;
  private sort: Sort = { key: "name", descending: false };
  private cls = 0;
  private colours = new Map<string, string>();
  private colourKey = "";
  private scrollFrame: number | null = null;
  private shownOnce = false;
  /** The scroller's height and scroll offset, kept from its events: rendering never forces a layout. */
  private viewHeight = FALLBACK_HEIGHT;
  private scrollTop = 0;

  constructor(private state: TabState, private actions: Actions) {
    const header = h("div", { class: "run-head", role: "row" });
    for (const col of COLUMNS) {
      const button = h("button", { type: "button", class: `run-sort run-col-${col.key}`, "data-sort": col.key, title: col.title }, col.label);
      button.addEventListener("click", () => this.sortBy(col.key));
      this.headButtons.set(col.key, button);
      header.appendChild(button);
    }
    this.filterInput.addEventListener("input", (e) => this.filtered(e.timeStamp));
    this.regexBox.addEventListener("change", () => this.filtered(performance.now()));
    this.classSelect.addEventListener("change", () => {
      this.cls = Number(this.classSelect.value) || 0;
      if (this.sort.key === "class") { this.refresh(); this.reordered(); } else this.render();
    });
    const button = (id: string, label: string, title: string, pick: () => string[]) => {
      const b = h("button", { type: "button", id, title }, label);
      b.addEventListener("click", () => this.select(pick()));
      return b;
    };
    const buttons = h("div", { class: "run-buttons" },
      button("tbc-runs-all", "All", "Select every run with this tag", () => this.rows.map((r) => r.name)),
      button("tbc-runs-none", "None", "Select no run", () => []),
      button("tbc-runs-filtered", "Filtered", "Select only the runs the filter shows", () => this.shown.map((r) => r.name)));
    this.scroller.appendChild(this.body);
    this.scroller.addEventListener("scroll", () => {
      if (this.scrollFrame === null) {
        this.scrollFrame = requestAnimationFrame(() => { this.scrollFrame = null; this.scrollTop = this.scroller.scrollTop; this.render(); });
      }
    });
    new ResizeObserver((entries) => {
      const height = entries[entries.length - 1].contentRect.height;
      if (height > 0 && height !== this.viewHeight) { this.viewHeight = height; this.render(); }
    }).observe(this.scroller);
    this.body.addEventListener("change", (e) => {
      const box = e.target as HTMLInputElement;
      if (box.type === "checkbox") this.toggle(box.value, box.checked);
    });
    this.el = h("fieldset", { class: "run-list run-table", id: "tbc-run-table" }, h("legend", {}, "Runs"),
      h("div", { class: "run-filter" }, this.filterInput,
        h("label", { title: "Regular expression (case-insensitive)" }, this.regexBox, ".*")),
      this.errorEl, buttons, this.countsEl, this.noteEl,
      h("label", { class: "run-class-pick" }, "Class column: ", this.classSelect),
      header, this.scroller);
    this.syncHeader();
    state.tableOrder = (runs) => this.inTableOrder(runs);
  }

  /** `runs` in the table's sort order (whether the filter shows them or not): beyond MAX_PANELS ticked runs,
   * the first ones get the panels (state.panelRuns). */
  inTableOrder(runs: string[]): string[] {
    if (!this.places) this.places = new Map(sortRows(this.rows, this.sort, this.cls).map((r, i) => [r.name, i]));
    const places = this.places;
    const place = (run: string) => places.get(run) ?? Infinity;
    return runs.slice().sort((a, b) => place(a) - place(b) || (a < b ? -1 : a > b ? 1 : 0));
  }

  /** The colour of `run` (by its place among every listed run), the same in every part of the tab. */
  colourOf(run: string): string {
    return this.colours.get(run) ?? "var(--muted)";
  }

  /** The runs with the tag, as rows; `note`: why these runs are ticked (the default selection), or null. */
  setRuns(available: string[], note: string | null): void {
    const state = this.state;
    const all = Object.keys(state.tags ?? {});
    const key = all.join("\u0000");
    if (key !== this.colourKey) { this.colours = runColours(all); this.colourKey = key; }
    const summaries = state.summaries;
    this.rows = available.map((name) => {
      const info = state.info(name);
      const s: RunSummary | undefined = summaries?.[name]?.[state.tag];
      const walls = info?.wall_times ?? [];
      return {
        name, lower: name.toLowerCase(), lastWall: walls.length ? walls[walls.length - 1] : 0,
        accuracy: s?.accuracy ?? null, worstRecall: s?.worst_recall ?? null, worstClass: s?.worst_class ?? null,
        ece: s?.ece ?? null, recall: s?.recall ?? null,
      };
    });
    this.setClasses(available.length ? state.info(available[0])?.class_names ?? [] : []);
    this.noteEl.textContent = note ?? "";
    this.noteEl.hidden = note === null;
    this.refresh();
  }

  /** Paint each run's colour on its panel heading in `panels` (a swatch before the name). */
  paintPanels(panels: HTMLElement): void {
    if (this.state.mode !== "matrix") return; // a difference panel is not one run's
    for (const section of Array.from(panels.querySelectorAll<HTMLElement>("section.panel[data-run]"))) {
      const run = section.dataset.run ?? "";
      const heading = section.querySelector("h3");
      if (!heading || !this.colours.has(run)) continue;
      let swatch = heading.querySelector<HTMLElement>(".run-swatch");
      if (!swatch) {
        swatch = h("span", { class: "run-swatch", "aria-hidden": "true" });
        heading.prepend(swatch);
      }
      swatch.style.background = this.colourOf(run);
      section.style.setProperty("--run-colour", this.colourOf(run));
    }
  }

  // ---------------------------------------------------------------- filtering, sorting

  /** The filter changed (at `start`, the input event's time): filter, render, and measure until the next frame. */
  private filtered(start: number): void {
    this.refresh();
    requestAnimationFrame(() => performance.measure("tbc-run-filter", { start, end: performance.now() }));
  }

  /** Filter and sort the rows anew, then render. */
  private refresh(): void {
    const filter = compileFilter(this.filterInput.value, this.regexBox.checked);
    this.errorEl.textContent = filter.error ?? "";
    this.errorEl.hidden = filter.error === null;
    this.filterInput.setAttribute("aria-invalid", String(filter.error !== null));
    this.shown = sortRows(filterRows(this.rows, filter), this.sort, this.cls);
    this.places = null;
    this.render();
  }

  /** The sort changed: with more runs ticked than get a panel, the panels follow the table's new order. */
  private reordered(): void {
    if (this.state.mode === "matrix" && this.state.runs.length > MAX_PANELS) this.actions.update();
  }

  private sortBy(key: SortKey): void {
    // a second click reverses; numbers start with the largest, names with A
    this.sort = this.sort.key === key ? { key, descending: !this.sort.descending } : { key, descending: key !== "name" };
    this.syncHeader();
    this.refresh();
    this.reordered();
  }

  private syncHeader(): void {
    for (const [key, button] of this.headButtons) {
      const on = key === this.sort.key;
      button.setAttribute("aria-sort", on ? (this.sort.descending ? "descending" : "ascending") : "none");
      button.dataset.arrow = on ? (this.sort.descending ? "▼" : "▲") : "";
    }
  }

  private setClasses(names: string[]): void {
    const limit = Math.min(names.length, 100);
    if (this.classSelect.options.length === limit && names.slice(0, limit).every((n, i) => this.classSelect.options[i].text === n)) return;
    clear(this.classSelect);
    if (this.cls >= limit) this.cls = 0;
    for (let i = 0; i < limit; i++) this.classSelect.appendChild(option(String(i), names[i], i === this.cls));
  }

  // ---------------------------------------------------------------- selection

  private toggle(run: string, on: boolean): void {
    const runs = this.state.runs.filter((r) => r !== run);
    if (on) runs.push(run);
    this.select(runs);
  }

  private select(runs: string[]): void {
    this.state.runs = Array.from(new Set(runs)).sort();
    this.noteEl.hidden = true;
    this.render();
    this.actions.runsChanged();
  }

  // ---------------------------------------------------------------- rows in view

  private render(): void {
    const total = this.shown.length;
    const selected = new Set(this.state.runs);
    this.countsEl.textContent = countsLine(total, this.rows.length, this.rows.filter((r) => selected.has(r.name)).length);
    this.body.style.height = `${total * ROW_HEIGHT}px`;
    const top = Math.min(this.scrollTop, Math.max(0, total * ROW_HEIGHT - this.viewHeight));
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(total, Math.ceil((top + this.viewHeight) / ROW_HEIGHT) + OVERSCAN);
    const names = Array.from(this.classSelect.options, (o) => o.text);
    const rows = document.createDocumentFragment();
    for (let i = first; i < last; i++) rows.appendChild(this.row(this.shown[i], i, selected.has(this.shown[i].name), names));
    clear(this.body);
    this.body.appendChild(rows);
    if (!this.shownOnce && total > 0) {
      // for the benchmark: the frame after the table first showed rows
      this.shownOnce = true;
      requestAnimationFrame(() => performance.mark("tbc-run-table"));
    }
  }

  private row(r: RunRow, i: number, checked: boolean, classNames: string[]): HTMLElement {
    const box = h("input", { type: "checkbox", value: r.name, "aria-label": `Show run ${r.name}` });
    box.checked = checked;
    const worstName = r.worstClass === null ? "" : classNames[r.worstClass] ?? String(r.worstClass);
    const cls = r.recall?.[this.cls] ?? null;
    const el = h("div", { class: "run-row", role: "listitem", "data-run": r.name, style: `top:${i * ROW_HEIGHT}px` },
      h("label", { class: "run-col-name", title: r.name }, box,
        h("span", { class: "run-swatch", style: `background:${this.colourOf(r.name)}` }),
        h("span", { class: "run-name" }, r.name)),
      h("span", { class: "run-col-accuracy", "data-value": r.accuracy ?? "" }, percent(r.accuracy)),
      h("span", { class: "run-col-worst", title: r.worstClass === null ? "" : `Lowest recall: ${worstName}` },
        r.worstRecall === null ? "–" : `${percent(r.worstRecall)} ${worstName}`),
      h("span", { class: "run-col-ece" }, r.ece === null ? "–" : r.ece.toFixed(3)),
      h("span", { class: "run-col-class", "data-value": cls ?? "" }, percent(cls)));
    return el;
  }
}
