// Drives the live training view of `dcgan train --serve` in headless Chromium: the status names
// the step and it advances, the fixed-noise grid decodes and is replaced by a newer one, the loss
// chart gets drawn. Run by tests/e2e/test_serve.cpp:
//
//   node live_view.mjs URL SCREENSHOT.png NODE_MODULES_DIR CHROMIUM
//
// Exits 0 when every check holds, 1 with the failed check on stderr otherwise (harness.mjs).
import { check, runInBrowser } from "./harness.mjs";

const stepOf = (text) => Number((/step (\d+)/.exec(text) || [])[1] || -1);

await runInBrowser("live_view.mjs", { width: 1000, height: 700 }, async (page, url, screenshot) => {
  await page.waitForFunction(() => /step \d+/.test(document.getElementById("status").textContent), null,
                             { timeout: 60000 });
  const step1 = stepOf(await page.textContent("#status"));
  check(step1 >= 1, `the status names the step (${step1})`);

  await page.waitForFunction(() => {
    const img = document.getElementById("grid");
    return !img.hidden && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 60000 });
  const grid1 = Number(await page.textContent("#gridStep"));
  check(grid1 >= 1, `the fixed-noise grid decodes (step ${grid1})`);

  // Some pixel of the loss chart is neither the white background nor the frame's gray.
  await page.waitForFunction(() => {
    const c = document.getElementById("losses");
    const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < px.length; i += 4) if (px[i] !== px[i + 1] || px[i + 1] !== px[i + 2]) return true;
    return false;
  }, null, { timeout: 60000 });
  check(true, "the loss chart is drawn (coloured lines)");

  // The job runs on: a later step and a newer grid appear without reloading the page.
  await page.waitForFunction((s) => {
    const m = /step (\d+)/.exec(document.getElementById("status").textContent);
    return m && Number(m[1]) > s;
  }, step1, { timeout: 60000 });
  check(true, "the step advances");
  await page.waitForFunction((g) => Number(document.getElementById("gridStep").textContent) > g, grid1,
                             { timeout: 60000 });
  check(true, "a newer grid replaces the first");

  await page.screenshot({ path: screenshot, fullPage: true });
});
