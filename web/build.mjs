// Builds the UI into ../hl_local/static: app.js, app.css and index.html, fixed names (the server
// sends them with an ETag and Cache-Control: no-cache, so no hashed names are needed).
// export.js, export.css and export-loader.js are the page of an HTML export (src/export/), which
// hl_local/export/html.py inlines into one self-contained file; the server never serves them.
// `node build.mjs --watch` rebuilds on change (pair it with `hl-local --dev`).
import * as esbuild from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const web = dirname(fileURLToPath(import.meta.url));
const out = join(web, "..", "hl_local", "static");
const watch = process.argv.includes("--watch");

const copyIndex = {
  name: "copy-index",
  setup(build) {
    build.onEnd(async (result) => {
      if (result.errors.length === 0) await copyFile(join(web, "src", "index.html"), join(out, "index.html"));
    });
  },
};

const options = {
  entryPoints: {
    app: join(web, "src", "main.tsx"),
    export: join(web, "src", "export", "main.tsx"),
    "export-loader": join(web, "src", "export", "loader.ts"),
  },
  outdir: out,
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  logLevel: "info",
  plugins: [copyIndex],
};

await mkdir(out, { recursive: true });
if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
