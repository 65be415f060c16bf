// What the tab says instead of (or above) the matrices: the page states
// (loading, no data, server error) and the notices (missing step, sampling,
// a panel that failed to load).
import { ApiError } from "../api";
import { excludedRowsNotice, type ExcludedRows } from "../logic/format";
import { panelCapNotice } from "../logic/run-filter";
import { append, clear, h } from "./dom";

/** An error as one line: the HTTP status and the server's message where there is one. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) return `HTTP ${e.status}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

type NoticeKind = "warn" | "error" | "info";
/** A button offered with a message. */
interface MessageAction { label: string; run: () => void }

/** The message shown in place of the tab: loading, no data yet, or an error. */
export class PageState {
  readonly el = h("div", { id: "tbc-state" });

  /** `main`: the tab's content, hidden while a message replaces it. */
  constructor(private main: HTMLElement) {}

  loading(): void {
    this.show("loading", "Loading runs…");
  }

  /** No matrices logged yet: the lines of code that log them. */
  empty(reload: () => void): void {
    const button = h("button", { type: "button", id: "tbc-retry" }, "Reload");
    button.addEventListener("click", reload);
    this.show("empty",
      h("strong", {}, "No confusion matrices in this log directory yet."),
      h("p", {}, "Log them from your evaluation loop with the hooks:"),
      h("pre", { class: "code" }, "monitor = attach_hooks(model, writer, class_names=class_names)\n"
        + "monitor.record(outputs, labels, images)   # for each evaluation batch\n"
        + "monitor.end_eval(step=epoch)               # writes the matrix and cell examples"),
      h("p", {}, "or write a matrix yourself:"),
      h("pre", { class: "code" }, "from tb_fmnist_plugin import summary\n"
        + "summary.write_confusion_matrix(writer, \"confusion/test\", matrix, step)"),
      h("p", { class: "muted" }, "Then press Reload (TensorBoard reads new event files every few seconds)."),
      button,
    );
  }

  /** `what` could not be loaded: the status, the server's message, where to look, and Retry. */
  serverError(e: unknown, what: string, retry: () => void): void {
    const err = e instanceof ApiError ? e : new ApiError(0, String(e), "?");
    const button = h("button", { type: "button", id: "tbc-retry" }, "Retry");
    button.addEventListener("click", retry);
    const hint = err.status === 0
      ? "TensorBoard did not answer. Check that the tensorboard command is still running, then retry."
      : err.status >= 500
        ? "The plugin failed on the server. The terminal running tensorboard shows the cause; fix it (or restart TensorBoard), then retry."
        : "TensorBoard rejected the request. Reload to refresh the list of runs.";
    this.show("error", h("strong", {}, `Could not load ${what}`), ` (${err.status ? "HTTP " + err.status : "no connection"}: ${err.message}). `, hint, " ", button);
  }

  hide(): void {
    this.el.hidden = true;
    this.el.dataset.state = "ok";
    this.main.hidden = false;
  }

  private show(kind: "loading" | "empty" | "error", ...content: (Node | string)[]): void {
    clear(this.el);
    this.el.className = kind === "error" ? "notice error" : "notice info";
    this.el.dataset.state = kind;
    append(this.el, ...content);
    this.el.hidden = false;
    this.main.hidden = true;
  }
}

/** Notices above the panels, each marked with a tag (data-notice) so one kind can be replaced alone. */
export class Notices {
  readonly el = h("div", { id: "tbc-notices", role: "status" });

  add(kind: NoticeKind, text: string, tag = "", action?: MessageAction): void {
    const el = h("div", { class: `notice ${kind}`, "data-notice": tag || kind }, text);
    if (action) {
      const b = h("button", { type: "button" }, action.label);
      b.addEventListener("click", action.run);
      el.appendChild(b);
    }
    this.el.appendChild(el);
  }

  /** Whether only `cap` of the `ticked` runs get a matrix panel (state.panelRuns), replacing the previous notice. */
  panelCap(ticked: number, cap: number): void {
    this.clear("panel-cap");
    if (ticked > cap) this.add("info", panelCapNotice(ticked, cap), "panel-cap");
  }

  /** One warning per evaluation whose rows with NaN logits are left out of a drawn matrix (replacing the previous ones). */
  excludedRows(rows: ExcludedRows[]): void {
    this.clear("excluded");
    const texts = new Set(rows.map(excludedRowsNotice));
    for (const text of texts) this.add("warn", text, "excluded");
  }

  /** Remove the notices with `tag`, or all of them. */
  clear(tag?: string): void {
    if (tag === undefined) clear(this.el);
    else this.el.querySelectorAll(`[data-notice=${tag}]`).forEach((n) => n.remove());
  }
}
