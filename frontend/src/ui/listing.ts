// The run list: requests of the tags route, one at a time. The auto-refresh
// (AUTO_REFRESH_MS after the previous one ended, like TensorBoard's own
// auto-reload) never starts a request while one is in flight, so a slow
// listing cannot make requests stack up; Reload aborts the request in
// flight, whose answer is no longer wanted, and asks anew.
import { AbortedError, getJson, type TagsResponse } from "../api";

const AUTO_REFRESH_MS = 30_000;

/** A request under way, and how to give it up. */
export interface Pending<T> { promise: Promise<T>; abort(): void }

/** Ask for the run list. `withLatest`: the answer also carries each small
 * series' last matrix (header X-Confusion-Latest: 1), what the tab draws first. */
export function requestTags(withLatest: boolean): Pending<TagsResponse> {
  const controller = new AbortController();
  const promise = getJson<TagsResponse>("tags", {}, withLatest ? { "X-Confusion-Latest": "1" } : {}, controller.signal);
  promise.catch(() => undefined); // handled where it is awaited
  return { promise, abort: () => controller.abort() };
}

/** What the tab does with the listing. */
export interface ListingUser {
  /** A listing arrived. `silent`: a refresh; `withLatest`: it carries last matrices. */
  listed(tags: TagsResponse, silent: boolean, withLatest: boolean): void;
  /** A listing failed (not called for an aborted one). */
  failed(error: unknown, silent: boolean): void;
  /** Whether the auto-refresh may ask now (e.g. not while Play runs or the page is hidden). */
  mayRefresh(): boolean;
}

export class TagsListing {
  private inFlight: { request: Pending<TagsResponse>; done: Promise<void> } | null = null;

  /** `early`: the first request, started before the page was built. */
  constructor(private user: ListingUser, private early: Pending<TagsResponse> | null = null) {}

  /** Whether a request is in flight. */
  get busy(): boolean {
    return this.inFlight !== null;
  }

  /** List now (first load, Reload, Retry): the request in flight is aborted. */
  load(silent = false): Promise<void> {
    this.inFlight?.request.abort();
    const withLatest = this.early !== null;
    const request = this.early ?? requestTags(false);
    this.early = null;
    const done = this.settle(request, silent, withLatest);
    this.inFlight = { request, done };
    return done;
  }

  /** What the auto-refresh does: list again, unless a request is in flight (then wait for that one). */
  refresh(): Promise<void> {
    return this.inFlight ? this.inFlight.done : this.load(true);
  }

  /** Refresh every AUTO_REFRESH_MS, counted from the end of the previous refresh. */
  startAutoRefresh(): void {
    window.setTimeout(() => {
      const ask = this.inFlight || !this.user.mayRefresh() ? Promise.resolve() : this.load(true);
      void ask.finally(() => this.startAutoRefresh());
    }, AUTO_REFRESH_MS);
  }

  private async settle(request: Pending<TagsResponse>, silent: boolean, withLatest: boolean): Promise<void> {
    let tags: TagsResponse;
    try {
      tags = await request.promise;
    } catch (e) {
      if (this.inFlight?.request !== request) return; // superseded by a newer request
      this.inFlight = null;
      if (!(e instanceof AbortedError)) this.user.failed(e, silent);
      return;
    }
    if (this.inFlight?.request !== request) return;
    this.inFlight = null;
    this.user.listed(tags, silent, withLatest);
  }
}
