// Build the call page into ../bot/web/dist (or the folder given with --outdir).
//
//   index.html  the page; assets referenced as /static/app.{js,css}?v=<content hash>
//   app.js      the TypeScript in src/ with Pipecat's client and transport, one ES module
//   app.css     the styles
//   THIRD_PARTY_LICENSES.txt  the licences of the bundled npm packages
//
// Deterministic: the same sources and lockfile give byte-identical files (no source
// maps, no timestamps, no absolute paths). `./livebot test` rebuilds and fails if the
// committed dist differs.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outArg = args.indexOf("--outdir");
const outdir = resolve(outArg >= 0 ? args[outArg + 1] : join(here, "..", "bot", "web", "dist"));

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { app: "src/app.ts" },
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020", "chrome90", "firefox90", "safari15"],
  minify: true,
  sourcemap: false,
  legalComments: "none",
  charset: "utf8",
  metafile: true,
  write: false,
  outdir: "out",
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
  // The transport imports Daily's SDK only for its default media manager, which the page
  // replaces (src/media.ts): bundle the stand-in in stubs/ instead. An esbuild alias, not
  // an npm `overrides` entry with `file:`, which npm 9 and 10 (Debian 12's) mishandle.
  alias: { "@daily-co/daily-js": "./stubs/daily-js" },
});

const js = result.outputFiles.find((f) => f.path.endsWith(".js")).text;
const css = readFileSync(join(here, "src", "app.css"), "utf8");
const version = createHash("sha256").update(js).update(css).digest("hex").slice(0, 12);
const html = readFileSync(join(here, "src", "index.html"), "utf8").replaceAll("__VERSION__", version);

// The licence texts of every npm package that ended up in app.js.
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (m) packages.add(m[1]);
}
const licenses = [...packages].sort().map((name) => {
  const dir = join(here, "node_modules", name);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const file = readdirSync(dir).sort().find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  const text = file ? readFileSync(join(dir, file), "utf8").trim() : `License: ${pkg.license ?? "see the package"}`;
  return `${name}@${pkg.version} (${pkg.license ?? "unknown"})\n\n${text}\n`;
});
const notice = `Third-party packages bundled into app.js\n${"=".repeat(40)}\n\n${licenses.join(`\n${"-".repeat(40)}\n\n`)}`;

if (existsSync(outdir)) {
  for (const f of readdirSync(outdir)) rmSync(join(outdir, f), { recursive: true });
}
mkdirSync(outdir, { recursive: true });
writeFileSync(join(outdir, "index.html"), html);
writeFileSync(join(outdir, "app.js"), js);
writeFileSync(join(outdir, "app.css"), css);
writeFileSync(join(outdir, "THIRD_PARTY_LICENSES.txt"), notice);
console.log(`built ${outdir} (app.js ${(js.length / 1024).toFixed(0)} KiB, version ${version})`);
