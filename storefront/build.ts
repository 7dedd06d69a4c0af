import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/** The storefront's sources (storefront/src) and where its bundle goes: dist/www, served by the gateway at `/`. */
export const STOREFRONT_SOURCES = fileURLToPath(new URL('./src/', import.meta.url));
export const STOREFRONT_OUT = fileURLToPath(new URL('../dist/www/', import.meta.url));
const STAMP = '.built';

function newestSource(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    const stat = statSync(full);
    newest = Math.max(newest, stat.isDirectory() ? newestSource(full) : stat.mtimeMs);
  }
  return newest;
}

function isFresh(outDir: string): boolean {
  try {
    return statSync(join(outDir, STAMP)).mtimeMs >= Math.max(newestSource(STOREFRONT_SOURCES), statSync(fileURLToPath(import.meta.url)).mtimeMs);
  } catch {
    return false;
  }
}

/**
 * Bundles the storefront with esbuild (minified ES2022, content-hashed names under assets/),
 * writes index.html naming them, and precompresses every text file (.gz and .br next to it).
 */
export async function buildStorefront(outDir: string): Promise<{ files: string[] }> {
  const esbuild = await import('esbuild');
  rmSync(outDir, { recursive: true, force: true });
  const result = await esbuild.build({
    entryPoints: [join(STOREFRONT_SOURCES, 'main.tsx')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: join(outDir, 'assets'),
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    legalComments: 'none',
    metafile: true,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const outputs = Object.keys(result.metafile.outputs).map((o) => relative(outDir, o).split('\\').join('/'));
  const script = outputs.find((o) => o.endsWith('.js'));
  const style = outputs.find((o) => o.endsWith('.css'));
  if (!script) throw new Error('storefront build wrote no JavaScript');
  writeFileSync(
    join(outDir, 'index.html'),
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Storefront</title>
<link rel="icon" href="data:,">
${style ? `<link rel="stylesheet" href="/${style}">\n` : ''}<script type="module" src="/${script}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The storefront needs JavaScript.</noscript>
</body>
</html>
`,
  );
  const files = ['index.html', ...outputs];
  for (const file of files) {
    const full = join(outDir, file);
    const body = readFileSync(full);
    writeFileSync(`${full}.gz`, gzipSync(body, { level: 9 }));
    writeFileSync(`${full}.br`, brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
  }
  writeFileSync(join(outDir, STAMP), new Date().toISOString());
  return { files };
}

/**
 * The storefront's bundle in `outDir`, built first when it is missing or older than a source
 * (about 100 ms). Several processes starting at once (tests) each build into their own directory
 * and the first to finish moves its build into place; the others use that one.
 */
export async function ensureStorefront(outDir: string = STOREFRONT_OUT): Promise<string> {
  if (isFresh(outDir)) return outDir;
  const dir = outDir.replace(/\/$/, '');
  const scratch = `${dir}.${process.pid}.${Date.now()}`;
  await buildStorefront(scratch);
  if (isFresh(outDir)) {
    rmSync(scratch, { recursive: true, force: true });
    return outDir;
  }
  // A complete build is never deleted while another process may be reading it: the stale one is
  // moved aside (atomically) before ours takes its name.
  const stale = `${dir}.stale.${process.pid}.${Date.now()}`;
  try {
    renameSync(outDir, stale);
  } catch {
    // missing, or another process moved it first
  }
  try {
    mkdirSync(join(outDir, '..'), { recursive: true });
    renameSync(scratch, outDir);
  } catch {
    // Another process moved its build in first: use it if complete, else keep ours.
    if (!isFresh(outDir)) return scratch;
    rmSync(scratch, { recursive: true, force: true });
  }
  rmSync(stale, { recursive: true, force: true });
  return outDir;
}

// `node --import tsx storefront/build.ts [outDir]`: the production build (npm run build, the Dockerfile).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outDir = process.argv[2] ?? STOREFRONT_OUT;
  const started = Date.now();
  const { files } = await buildStorefront(outDir);
  const sizes = files.map((f) => `${basename(f)} ${readFileSync(join(outDir, f)).length} B (${readFileSync(join(outDir, `${f}.gz`)).length} B gzip)`);
  process.stdout.write(`storefront built into ${outDir} in ${Date.now() - started} ms:\n  ${sizes.join('\n  ')}\n`);
}

