// Bundles src/index.ts into ../tb_fmnist_plugin/static/index.js (one ES module,
// CSS included as a string), deterministically: no source maps, no timestamps,
// no absolute paths. `node build.mjs --tests` bundles the unit tests instead
// into node_modules/.tests/ for `node --test`.
import { build } from "esbuild";
import { readdirSync } from "node:fs";

const common = {
  bundle: true,
  format: "esm",
  target: "es2020",
  platform: "browser",
  charset: "utf8",
  legalComments: "none",
  logLevel: "warning",
};

if (process.argv.includes("--tests")) {
  const tests = readdirSync("test").filter((f) => f.endsWith(".test.ts")).map((f) => `test/${f}`);
  await build({
    ...common,
    platform: "node",
    entryPoints: tests,
    outdir: "node_modules/.tests",
    outExtension: { ".js": ".mjs" },
  });
} else {
  await build({
    ...common,
    entryPoints: ["src/index.ts"],
    outfile: "../tb_fmnist_plugin/static/index.js",
    minify: true,
  });
}
