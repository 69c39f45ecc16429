// Bundles GraphiQL and the sign-in page into dist/ for the server package
// to embed (no CDN: every script, style and font is in these files), with
// the licenses of everything bundled in dist/THIRD_PARTY_LICENSES.txt.
// Run with `npm ci && npm run build`; commit dist/.
'use strict';

const esbuild = require('esbuild');
const fs = require('fs');
const path = require('path');

const out = path.join(__dirname, 'dist');

async function main() {
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  const result = await esbuild.build({
    entryPoints: [path.join(__dirname, 'src', 'main.jsx')],
    outfile: path.join(out, 'graphiql.js'),
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['es2020'],
    jsx: 'automatic',
    define: { 'process.env.NODE_ENV': '"production"' },
    // Fonts and images referenced by the styles are inlined.
    loader: { '.woff': 'dataurl', '.woff2': 'dataurl', '.ttf': 'dataurl', '.svg': 'dataurl', '.png': 'dataurl' },
    legalComments: 'none', // the full license texts go to THIRD_PARTY_LICENSES.txt
    metafile: true,
    logLevel: 'warning'
  });
  fs.copyFileSync(path.join(__dirname, 'src', 'index.html'), path.join(out, 'index.html'));
  fs.writeFileSync(path.join(out, 'THIRD_PARTY_LICENSES.txt'), licenses(result.metafile));
}

// licenses lists every npm package with a file in the bundle: name,
// version, license and the text of its license file.
function licenses(metafile) {
  const dirs = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const m = input.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//);
    if (m) {
      dirs.add(m[1]);
    }
  }
  const entries = [...dirs].map(dir => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, dir, 'package.json'), 'utf8'));
    const file = fs.readdirSync(path.join(__dirname, dir)).find(f => /^(licen[cs]e|copying)(\.|$)/i.test(f));
    const author = typeof pkg.author === 'string' ? pkg.author : pkg.author && pkg.author.name;
    const text = file
      ? fs.readFileSync(path.join(__dirname, dir, file), 'utf8').trim()
      : `The package ships no license file; its package.json declares the ${pkg.license} license` +
        (author ? `, author ${author}` : '') + '.';
    return { name: pkg.name, version: pkg.version, license: pkg.license, text };
  });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header = 'Third-party software bundled in graphiql.js and graphiql.css (built by server/graphiql/build.js).\n';
  return header + entries.map(e => `\n${'='.repeat(78)}\n${e.name} ${e.version} (${e.license})\n${'='.repeat(78)}\n\n${e.text}\n`).join('');
}

main().catch(e => {
  process.stderr.write(`build.js: ${e && e.stack ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
