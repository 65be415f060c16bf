// The step bar: the step slider, Play/Pause (one step every PLAY_INTERVAL_MS
// up to the last step), the step label and the loading indicator.
import { nearestIndex } from "../logic/steps";
import { h } from "./dom";
import type { Actions, TabState } from "./state";

const PLAY_INTERVAL_MS = 700;

export class Player {
  readonly el: HTMLElement;
  private playButton = h("button", { type: "button", id: "tbc-play", "aria-pressed": "false" }, "▶ Play");
  private slider = h("input", { type: "range", id: "tbc-step", min: 0, max: 0, step: 1, value: 0, "aria-label": "Step" });
  private stepLabel = h("output", { id: "tbc-step-label", for: "tbc-step" });
  private loading = h("span", { id: "tbc-loading", class: "muted", role: "status", hidden: true });
  private playTimer: number | null = null;

  constructor(private state: TabState, private actions: Actions) {
    this.playButton.addEventListener("click", () => this.togglePlay());
    this.slider.addEventListener("input", () => this.showIndex(Number(this.slider.value), true));
    this.el = h("div", { class: "stepbar" }, this.playButton, this.slider, this.stepLabel, this.loading);
  }

  get playing(): boolean {
    return this.playTimer !== null;
  }

  /** Fit the slider to `state.steps`, at `state.targetStep`. */
  setSteps(): void {
    const { steps, targetStep } = this.state;
    this.slider.max = String(Math.max(0, steps.length - 1));
    this.slider.value = String(targetStep === null ? 0 : nearestIndex(steps, targetStep));
    this.slider.disabled = steps.length < 2;
    this.playButton.disabled = steps.length < 2;
  }

  /** Name the step the panels are about to show. */
  showStep(): void {
    const target = this.state.targetStep;
    const text = target === null ? "no steps" : `step ${target}`;
    this.stepLabel.textContent = text;
    this.slider.setAttribute("aria-valuetext", text);
  }

  /** Say what is loading (null: nothing). */
  setLoading(text: string | null): void {
    this.loading.textContent = text ?? "";
    this.loading.hidden = text === null;
  }

  private showIndex(i: number, bySlider: boolean): void {
    const state = this.state;
    this.slider.value = String(i);
    state.targetStep = state.steps[i] ?? null;
    state.settings.step = state.targetStep;
    state.save();
    this.actions.stepChanged(bySlider);
  }

  private stopPlay(): void {
    if (this.playTimer !== null) clearInterval(this.playTimer);
    this.playTimer = null;
    this.playButton.textContent = "▶ Play";
    this.playButton.setAttribute("aria-pressed", "false");
  }

  private togglePlay(): void {
    if (this.playTimer !== null) {
      this.stopPlay();
      return;
    }
    const steps = () => this.state.steps.length; // the list may grow while playing
    if (steps() < 2) return;
    this.playButton.textContent = "❚❚ Pause";
    this.playButton.setAttribute("aria-pressed", "true");
    if (Number(this.slider.value) >= steps() - 1) this.showIndex(0, false);
    this.playTimer = window.setInterval(() => {
      const next = Number(this.slider.value) + 1;
      if (next >= steps()) { this.stopPlay(); return; }
      this.showIndex(next, false);
      if (next >= steps() - 1) this.stopPlay();
    }, PLAY_INTERVAL_MS);
  }
}
