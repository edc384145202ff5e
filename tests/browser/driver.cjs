// Drives headless Chromium for the browser tests: one JSON command per line on stdin, one JSON
// answer per line on stdout ({id, ok, result} or {id, ok: false, error}); console messages of
// every page come out as {event: "console", page, type, text}, and every HTTP answer of 400 or
// more as {event: "http", page, status, method, url}.
//
// `goto` with `hook` (a file path) injects that ES module into the page after it loaded: the
// tests' view into the page (page_hook.mjs), which the web app itself never serves.
//
// playwright-core is loaded from $PLAYWRIGHT_CORE (its directory, installed by
// scripts/fetch_web_assets.sh); the browser is the system Chromium ($CHROMIUM, /usr/bin/chromium).
'use strict';

const fs = require('fs');
const readline = require('readline');

const { chromium } = require(process.env.PLAYWRIGHT_CORE || 'playwright-core');

const browsers = new Map();
const pages = new Map();
let nextId = 1;

function send(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function page(id) {
  const found = pages.get(id);
  if (!found) throw new Error(`no page ${id}`);
  return found;
}

const commands = {
  async launch({ args }) {
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args,
    });
    const id = `b${nextId++}`;
    browsers.set(id, browser);
    return id;
  },

  async newPage({ browser, name, viewport, permissions }) {
    const context = await browsers.get(browser).newContext({
      viewport: viewport || { width: 1280, height: 800 },
      permissions: permissions || ['microphone'],
      bypassCSP: true, // waitForFunction evaluates strings; the page's own CSP forbids eval
    });
    const p = await context.newPage();
    const id = name || `p${nextId++}`;
    pages.set(id, p);
    p.on('console', (msg) => send({ event: 'console', page: id, type: msg.type(), text: msg.text() }));
    p.on('pageerror', (err) => send({ event: 'console', page: id, type: 'pageerror', text: String(err) }));
    p.on('response', (response) => {
      if (response.status() < 400) return;
      const request = response.request();
      send({
        event: 'http', page: id, status: response.status(), method: request.method(),
        url: response.url().split('?')[0],
      });
    });
    return id;
  },

  async goto({ page: id, url, hook }) {
    const p = page(id);
    await p.goto(url, { waitUntil: 'load' });
    if (hook) {
      await p.addScriptTag({ type: 'module', content: fs.readFileSync(hook, 'utf8') });
      await p.waitForFunction('window.interpreterPage !== undefined', null, { timeout: 10000 });
    }
  },

  async fill({ page: id, selector, value }) {
    await page(id).fill(selector, value);
  },

  async select({ page: id, selector, value }) {
    await page(id).selectOption(selector, value);
  },

  async check({ page: id, selector }) {
    await page(id).check(selector);
  },

  async click({ page: id, selector }) {
    await page(id).click(selector);
  },

  // Hold the mouse button down on `selector` (or let go of it): a press that lasts, which a
  // click cannot give (the cough button mutes while held).
  async mouse({ page: id, selector, action }) {
    const p = page(id);
    if (action === 'down') {
      const box = await p.locator(selector).boundingBox();
      if (!box) throw new Error(`${selector} is not visible`);
      await p.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await p.mouse.down();
    } else {
      await p.mouse.up();
    }
  },

  // Hold a key down or let it go (keyboard.down / keyboard.up), on whatever has the focus.
  async key({ page: id, key, action }) {
    const { keyboard } = page(id);
    if (action === 'down') await keyboard.down(key);
    else await keyboard.up(key);
  },

  async download({ page: id, selector, path }) {
    const p = page(id);
    const [download] = await Promise.all([p.waitForEvent('download'), p.click(selector)]);
    await download.saveAs(path);
    return download.suggestedFilename();
  },

  // Hold back every response whose URL contains `part` by `ms` (a slow network for one file).
  async delay({ page: id, part, ms }) {
    await page(id).route((url) => url.href.includes(part), async (route) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      await route.continue();
    });
  },

  async evaluate({ page: id, expression }) {
    return page(id).evaluate(expression);
  },

  async waitFor({ page: id, expression, timeoutMs }) {
    const handle = await page(id).waitForFunction(expression, null, {
      timeout: timeoutMs, polling: 100,
    });
    return handle.jsonValue();
  },

  async screenshot({ page: id, path, fullPage }) {
    await page(id).screenshot({ path, fullPage: Boolean(fullPage) });
  },

  async closePage({ page: id }) {
    const p = page(id);
    pages.delete(id);
    await p.context().close();
  },

  async closeBrowser({ browser }) {
    const b = browsers.get(browser);
    browsers.delete(browser);
    if (b) await b.close();
  },
};

async function shutdown() {
  for (const b of browsers.values()) {
    try { await b.close(); } catch (e) { /* already gone */ }
  }
  process.exit(0);
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  let request;
  try {
    request = JSON.parse(line);
  } catch (e) {
    send({ id: null, ok: false, error: `bad command: ${e}` });
    return;
  }
  const command = commands[request.cmd];
  if (!command) {
    send({ id: request.id, ok: false, error: `unknown command ${request.cmd}` });
    return;
  }
  try {
    const result = await command(request);
    send({ id: request.id, ok: true, result: result === undefined ? null : result });
  } catch (e) {
    send({ id: request.id, ok: false, error: String((e && e.stack) || e) });
  }
});
lines.on('close', shutdown);
process.on('SIGTERM', shutdown);
