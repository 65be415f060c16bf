// What the cards below the panels share: what they may use, their frame, and
// filling a part of a card once its data has arrived.
import type { Cached } from "./cache";
import { h } from "./dom";
import { describeError } from "./messages";
import type { Actions, TabState } from "./state";
import type { DataStore } from "./store";

export interface CardContext {
  state: TabState;
  store: DataStore;
  actions: Actions;
}

/** An empty card: a section with its id, accessible name and heading. */
export function card(id: string, label: string, ...heading: (Node | string)[]): HTMLElement {
  return h("section", { class: "card", id, "aria-label": label }, h("h2", {}, ...heading));
}

/** Fill `box` from `data` with `fill`: at once if it has arrived, else after a
 * "Loading <what>…" line. If `box` was cleared meanwhile (a newer fill), the
 * late answer is dropped; a failure is said in the line's place. */
export function fillWhenLoaded<T>(box: HTMLElement, data: Cached<T>, what: string, fill: (value: T) => void,
  failure: (e: unknown) => string = (e) => `Could not load ${what}: ${describeError(e)}`): void {
  const ready = data.value;
  if (ready !== undefined) {
    fill(ready);
    return;
  }
  const loading = h("p", { class: "muted" }, `Loading ${what}…`);
  box.appendChild(loading);
  data.load().then((value) => {
    if (loading.parentNode !== box) return;
    loading.remove();
    fill(value);
  }, (e) => {
    if (loading.parentNode === box) loading.replaceWith(h("p", { class: "notice error" }, failure(e)));
  });
}
