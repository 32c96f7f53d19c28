// Bundles app/ (Nile's React forms and the page around them) into one ES module with esbuild,
// next to Nile's stylesheet and the page's HTML.
//   node build.mjs OUT_DIR
import { copyFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const out = process.argv[2];
if (!out) {
  throw new Error('usage: node build.mjs OUT_DIR');
}
const here = (path) => fileURLToPath(new URL(path, import.meta.url));
await mkdir(out, { recursive: true });
await build({
  entryPoints: [here('app/main.jsx')],
  outfile: `${out}/app.js`,
  bundle: true,
  format: 'esm',
  jsx: 'automatic',
  minify: true,
  target: 'es2022',
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'none',
  logLevel: 'warning',
});
await copyFile(here('node_modules/@niledatabase/react/dist/styles.css'), `${out}/styles.css`);
await copyFile(here('app/index.html'), `${out}/index.html`);
await copyFile(here('app/forge.js'), `${out}/forge.js`);
