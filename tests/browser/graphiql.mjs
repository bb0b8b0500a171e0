// The GraphiQL page in a real browser: Debian's chromium, driven by
// playwright-core, loads the gateway's GraphiQL with every request to a
// host other than the loopback one refused, runs the example operation
// with the page's run button, and waits for its data in the result pane.
// Saves a screenshot of the page with the result.
//
// Usage: node tests/browser/graphiql.mjs GRAPHQL_URL SCREENSHOT_PATH
// CHROMIUM (default /usr/bin/chromium) names the browser.

import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { chromium } from 'playwright-core';

const [graphqlUrl, screenshotPath] = process.argv.slice(2);
if (!graphqlUrl || !screenshotPath) {
  console.error('usage: node tests/browser/graphiql.mjs GRAPHQL_URL SCREENSHOT_PATH');
  process.exit(2);
}
const loopback = new Set(['127.0.0.1', 'localhost', '[::1]']);
const userDataDir = await mkdtemp(join(tmpdir(), 'contact-gateway-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
  viewport: { width: 1400, height: 900 },
});
const blocked = [];
const problems = [];
try {
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (loopback.has(url.hostname)) {
      return route.continue();
    }
    blocked.push(url.href);
    return route.abort('blockedbyclient');
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // The browser asks for /favicon.ico on its own; the gateway has none.
    if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  await page.goto(graphqlUrl, { waitUntil: 'load' });
  // The example operation is in the editor once GraphiQL has started.
  await page.waitForFunction(
    () => document.querySelector('.graphiql-query-editor')?.textContent?.includes('PropertyBoard'),
    undefined,
    { timeout: 30_000 },
  );
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(
    () => {
      const text = document.querySelector('.graphiql-response')?.textContent ?? '';
      // The editor draws only the lines in view: the answer's first ones.
      return text.includes('"data"') && text.includes('"nodes"') && text.includes('"displayName"');
    },
    undefined,
    { timeout: 30_000 },
  );
  const result = await page.locator('.graphiql-response').innerText();
  if (result.includes('"errors"')) {
    problems.push(`the result pane shows errors:\n${result}`);
  }
  await mkdir(dirname(screenshotPath), { recursive: true });
  await page.screenshot({ path: screenshotPath, fullPage: true });
} finally {
  await context.close();
  await rm(userDataDir, { recursive: true, force: true });
}
console.log(`requests to other hosts refused: ${blocked.length}`);
for (const url of blocked) {
  console.log(`  refused: ${url}`);
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`the result pane shows data; screenshot: ${screenshotPath}`);
