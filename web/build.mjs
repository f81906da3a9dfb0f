// Builds the playground into codering_x/dispatcher/playground/ (committed, so that running
// codering-x needs no node): `npm ci && npm run build`. The bundle's first line names the
// sha256 of its sources; a test checks it against the sources, so they cannot drift apart.
import { analyzeMetafile, build } from "esbuild";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const out = "../codering_x/dispatcher/playground";
const sources = ["build.mjs", "package-lock.json", ...readdirSync("src").sort().map((f) => `src/${f}`)];
const hash = createHash("sha256");
for (const path of sources) hash.update(`${path}\0`).update(readFileSync(path)).update("\0");
const banner = `/* codering-x playground, built from sources sha256:${hash.digest("hex")} */`;

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints: { playground: "src/main.js" },
  outdir: out,
  bundle: true,
  minify: true,
  format: "esm",
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  target: "es2020",
  legalComments: "linked",
  banner: { js: banner, css: banner },
  logLevel: "info",
  metafile: true,
});
copyFileSync("src/index.html", `${out}/index.html`);
// Served gzipped to browsers that take it (aiohttp picks the .gz beside a file by itself).
for (const file of Object.keys(result.metafile.outputs)) {
  if (/\.(js|css)$/.test(file)) writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: 9, mtime: 0 }));
}
if (process.env.ANALYZE) console.log(await analyzeMetafile(result.metafile));
