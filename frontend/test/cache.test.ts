// Unit tests of the promise cache behind every route (ui/cache.ts, no DOM).
import { test } from "node:test";
import assert from "node:assert/strict";
import { PromiseCache } from "../src/ui/cache";

test("PromiseCache asks once per key, drops the least recently used beyond its limit", async () => {
  const cache = new PromiseCache<string>();
  cache.limit = 2;
  const asked: string[] = [];
  const entry = (k: string) => cache.entry(k, () => { asked.push(k); return Promise.resolve(k.toUpperCase()); });
  assert.equal(await entry("a").load(), "A");
  assert.equal(await entry("a").load(), "A");
  await entry("b").load();
  assert.equal(entry("a").value, "A"); // a read: "a" is now the most recently used
  await entry("c").load(); // over the limit: "b" goes, not "a"
  assert.equal(entry("b").value, undefined);
  assert.equal(entry("a").value, "A");
  assert.deepEqual(asked, ["a", "b", "c"]);
});

test("PromiseCache forgets a failed request, so the next load asks again", async () => {
  const cache = new PromiseCache<number>();
  let calls = 0;
  const entry = cache.entry("k", () => (++calls === 1 ? Promise.reject(new Error("down")) : Promise.resolve(7)));
  await assert.rejects(entry.load());
  assert.equal(entry.value, undefined);
  assert.equal(await entry.load(), 7);
  assert.equal(calls, 2);
});
