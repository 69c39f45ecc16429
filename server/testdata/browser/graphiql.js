// Drives an orgtree server's GraphiQL page in a headless Chromium, as a
// person would: the schema's docs load before signing in, a wrong secret is
// refused on the page, the right one signs in and the default query runs.
// Every request the page makes must go to the server itself, and nothing
// may fail (no console error, no CSP violation, no HTTP error).
//
// Environment: ORGTREE_URL (http://127.0.0.1:PORT), ORGTREE_POOL_ID,
// ORGTREE_SECRET, CHROMIUM (the browser executable).
// Output: one JSON object {"docs", "refused", "result", "problems",
// "external"} on stdout; server/graphiql_browser_test.go checks it.
'use strict';

const puppeteer = require('puppeteer-core');

async function main() {
  const { ORGTREE_URL: base, ORGTREE_POOL_ID: pool, ORGTREE_SECRET: secret, CHROMIUM: chromium } = process.env;
  if (!base || !pool || !secret || !chromium) {
    process.stderr.write('graphiql.js: set ORGTREE_URL, ORGTREE_POOL_ID, ORGTREE_SECRET and CHROMIUM\n');
    process.exitCode = 2;
    return;
  }
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(15000);
    const problems = [];
    const external = [];
    page.on('console', m => {
      if (m.type() === 'error' || m.type() === 'warn' || m.type() === 'warning') {
        problems.push(`console ${m.type()}: ${m.text()}`);
      }
    });
    page.on('pageerror', e => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', r => problems.push(`request failed: ${r.url()}`));
    page.on('response', r => {
      // The wrong-secret sign-in answers 200 with errors; anything >= 400
      // is a problem.
      if (r.status() >= 400) {
        problems.push(`HTTP ${r.status()}: ${r.url()}`);
      }
    });
    page.on('request', r => {
      if (!r.url().startsWith(base + '/') && !r.url().startsWith('data:')) {
        external.push(r.url());
      }
    });

    await page.goto(base + '/graphiql', { waitUntil: 'networkidle0' });
    await page.waitForSelector('.graphiql-container');
    await page.click('button[aria-label="Show Documentation Explorer"]');
    await page.waitForFunction(() => {
      const d = document.querySelector('.graphiql-doc-explorer');
      return d && d.innerText.includes('mutation: Mutation');
    });
    const docs = await page.$eval('.graphiql-doc-explorer', d => d.innerText.slice(0, 300));

    await page.type('input[name=userPoolId]', pool);
    await page.type('input[name=secret]', secret + '-wrong');
    await page.click('form.orgtree-signin button[type=submit]');
    await page.waitForSelector('.orgtree-error');
    const refused = await page.$eval('.orgtree-error', e => e.textContent);

    await page.click('input[name=secret]', { clickCount: 3 }); // select the wrong one
    await page.type('input[name=secret]', secret);
    await page.click('form.orgtree-signin button[type=submit]');
    await page.waitForFunction(() => document.body.innerText.includes('signed in to user pool'));
    await page.click('.graphiql-execute-button');
    await page.waitForFunction(() => {
      const r = document.querySelector('.result-window');
      return r && r.innerText.includes('totalCount');
    });
    // CodeMirror shows spaces as no-break spaces.
    const result = (await page.$eval('.result-window', r => r.innerText)).replace(/\u00a0/g, ' ');
    process.stdout.write(JSON.stringify({ docs, refused, result, problems, external }) + '\n');
  } finally {
    await browser.close();
  }
}

main().catch(e => {
  process.stderr.write(`graphiql.js: ${e && e.stack ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
