// What the browser scripts share: their command line (URL SCREENSHOT.png NODE_MODULES_DIR
// CHROMIUM), launching Debian's headless Chromium through playwright-core (never a downloaded
// browser), named checks, and the exit status (0 when every check held, 1 with the failed one on
// stderr, 2 for a bad command line).
import { createRequire } from "node:module";
import path from "node:path";

export function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
}

// Opens URL in a fresh page and runs `body(page, url, screenshot)` on it; then checks that the page
// raised no script error and requested nothing from another origin, and exits the process.
export async function runInBrowser(script, viewport, body) {
  const [url, screenshot, modules, chromiumPath] = process.argv.slice(2);
  if (!url || !screenshot || !modules || !chromiumPath) {
    console.error(`usage: node ${script} URL SCREENSHOT.png NODE_MODULES_DIR CHROMIUM`);
    process.exit(2);
  }
  const require = createRequire(path.join(path.resolve(modules), "noop.js"));
  const { chromium } = require("playwright-core");
  const browser = await chromium.launch({ executablePath: chromiumPath });
  let failed = false;
  try {
    const page = await browser.newPage({ viewport });
    const errors = [], requests = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(url);
    await body(page, url, screenshot);
    check(errors.length === 0, `no script errors ${errors.join("; ")}`);
    const origin = new URL(url).origin;
    check(requests.every((r) => r.replace(/^blob:/, "").startsWith(origin)),
          `the page requested nothing from another origin (${requests.length} requests)`);
  } catch (e) {
    console.error(String(e && e.stack ? e.stack : e));
    failed = true;
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
}
