// Card "Examples": the thumbnails the hooks logged for the selected cell,
// cut from the step's sprite sheet, with confidence and dataset index. A step
// without examples falls back to the nearest step that has them. For a
// segmentation tag (pixels counted) each thumbnail is the image with the
// cell's pixels highlighted by the hooks, and the caption says so.
import { ApiError, type ExamplesResponse } from "../api";
import { nearestStep } from "../logic/steps";
import { countUnit } from "../logic/units";
import { card, fillWhenLoaded, type CardContext } from "./card";
import { h } from "./dom";
import { describeError } from "./messages";
import type { PanelView } from "./state";
import { spriteUrl, tileCanvas } from "./thumbs";

export function examplesCard({ state, store }: CardContext, v: PanelView): HTMLElement {
  const el = card("tbc-examples", "Examples of the selected cell", "Examples");
  el.setAttribute("aria-live", "polite");
  const sel = state.selectedCellOf(v);
  if (!sel) {
    el.appendChild(h("p", { class: "muted" }, "Click a cell (or press Enter on it) or a top confusion to see its example images."));
    return el;
  }
  const exSteps = state.info(v.run, v.tag)?.examples_steps ?? [];
  el.appendChild(h("div", { class: "hint", id: "tbc-examples-title" }, `True ${v.names[sel.t]} → predicted ${v.names[sel.p]}, run ${v.run}`));
  if (exSteps.length === 0) {
    el.appendChild(h("p", { class: "muted" }, "This run logged no example images. monitor.record(outputs, labels, images) with images, or summary.write_cell_examples(...), stores them."));
    return el;
  }
  const pixels = countUnit(state.info(v.run, v.tag)?.unit) === "pixels";
  if (pixels) {
    el.appendChild(h("p", { class: "hint overlay-caption" }, "Images with the most pixels of this cell; pixels of this cell highlighted."));
  }
  const exStep = exSteps.includes(v.step) ? v.step : nearestStep(exSteps, v.step)!;
  const count = v.counts.data[sel.t * v.counts.n + sel.p];
  if (exStep === v.step && count === 0) {
    // an empty cell has nothing to show (and nothing was dropped)
    el.appendChild(h("p", { class: "muted", "data-empty": "true" }, `No examples: no true ${v.names[sel.t]} was predicted as ${v.names[sel.p]} at step ${v.step} (the cell is 0).`));
    return el;
  }
  if (exStep !== v.step) el.appendChild(h("p", { class: "notice warn" }, `No examples were logged at step ${v.step}; showing step ${exStep}, the nearest step with examples.`));
  const body = h("div", { class: "thumbs", "data-step": exStep });
  el.appendChild(body);
  fillWhenLoaded(body, store.examples(v.run, v.tag, exStep, sel), "examples", (ex) => {
    if (ex.examples.length === 0) {
      body.appendChild(h("p", { class: "muted", "data-empty": "true" }, exStep === v.step
        ? `No examples of this cell's ${count} prediction${count === 1 ? "" : "s"} were kept at step ${exStep} (the byte budget of the examples summary dropped them).`
        : `No examples of this cell at step ${exStep}.`));
      return;
    }
    fillWhenLoaded(body, store.sprite(spriteUrl(ex.sprite, "examples")), "the sprite image", (img) => drawThumbs(body, ex, img, v.names[sel.p], pixels),
      () => "The sprite image of this step could not be loaded.");
  }, (e) => e instanceof ApiError && e.status === 404
    ? `No examples at step ${exStep} any more (${e.message}). Press Reload.`
    : `Could not load examples: ${describeError(e)}`);
  return el;
}

/** `pixels`: a segmentation tag, whose stored value per example is the share
 * of the image's pixels in the cell (docs/format.md), not a confidence. */
function drawThumbs(body: HTMLElement, ex: ExamplesResponse, img: HTMLImageElement, predicted: string, pixels: boolean): void {
  for (const e of ex.examples) {
    const value = pixels ? `${(100 * e.confidence).toFixed(1)}% of pixels` : `conf ${e.confidence.toFixed(2)}`;
    const label = pixels
      ? `Example ${e.dataset_index >= 0 ? "#" + e.dataset_index : ""}: ${(100 * e.confidence).toFixed(1)}% of its pixels in this cell`
      : `Example ${e.dataset_index >= 0 ? "#" + e.dataset_index : ""} predicted ${predicted} with confidence ${e.confidence.toFixed(2)}`;
    const c = tileCanvas(img, ex, e.x, e.y, label);
    body.appendChild(h("div", { class: "thumb", "data-confidence": e.confidence, "data-dataset-index": e.dataset_index, title: e.dataset_index >= 0 ? `dataset index ${e.dataset_index}` : "" },
      c, value, e.dataset_index >= 0 ? h("span", { class: "muted" }, `#${e.dataset_index}`) : null));
  }
}
