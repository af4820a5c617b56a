// Drives the page of `dcgan serve` in headless Chromium (playwright-core, no browser download):
// the grid's images decode, a click shows the large view, an interpolation and a vector
// arithmetic show images, and picking other seeds changes those images. Run by
// tests/e2e/test_serve.cpp:
//
//   node serve_explorer.mjs URL SCREENSHOT.png NODE_MODULES_DIR CHROMIUM
//
// Exits 0 when every check holds, 1 with the failed check on stderr otherwise (harness.mjs).
import { check, runInBrowser } from "./harness.mjs";

// The pixels of an <img> as the browser decoded them (a data URL of a canvas copy), or null while
// it has not decoded (naturalWidth 0).
async function pixels(page, selector) {
  return page.$eval(selector, (img) => {
    if (!img.complete || img.naturalWidth === 0) return null;
    const c = document.createElement("canvas");
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    c.getContext("2d").drawImage(img, 0, 0);
    return c.toDataURL("image/png");
  });
}

async function decoded(page, selector) {
  await page.waitForFunction((sel) => {
    const img = document.querySelector(sel);
    return img && !img.hidden && img.complete && img.naturalWidth > 0;
  }, selector, { timeout: 30000 });
  return pixels(page, selector);
}

// Waits until the <img> shows pixels other than `before` (a new image has loaded).
async function changed(page, selector, before) {
  await page.waitForFunction(([sel, old]) => {
    const img = document.querySelector(sel);
    if (!img || img.hidden || !img.complete || img.naturalWidth === 0) return false;
    const c = document.createElement("canvas");
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    c.getContext("2d").drawImage(img, 0, 0);
    return c.toDataURL("image/png") !== old;
  }, [selector, before], { timeout: 30000 });
  return pixels(page, selector);
}

await runInBrowser("serve_explorer.mjs", { width: 1100, height: 900 }, async (page, url, screenshot) => {
  // The grid: every image decoded.
  await page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll("#grid img")];
    return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
  }, null, { timeout: 60000 });
  const cells = await page.$$eval("#grid img", (imgs) => imgs.map((i) => ({ w: i.naturalWidth, seed: i.dataset.seed })));
  check(cells.length >= 4, `the grid shows ${cells.length} decoded images`);
  const info = await (await page.request.get(new URL("/api/info", url).href)).json();
  check(cells.every((c) => c.w === info.model.img_size), `each grid image is ${info.model.img_size} px wide as /api/info says`);
  const cellPixels = [];
  for (let i = 0; i < 4; ++i) cellPixels.push(await pixels(page, `#grid img:nth-child(${i + 1})`));
  check(new Set(cellPixels).size > 1, "different seeds give different images");

  // Click one: the large view appears, showing that seed.
  check(await page.$eval("#large", (i) => i.hidden), "no large view before a click");
  await page.click("#grid img:nth-child(2)");
  const large = await decoded(page, "#large");
  check(large === cellPixels[1], "the large view shows the clicked image");
  check((await page.textContent("#current")) === cells[1].seed, "the selected seed is named");

  // Interpolation between the 1st and 2nd image, then between the 1st and the 3rd.
  await page.click("#grid img:nth-child(1)");
  await page.click("#pickInterpA");
  await page.click("#grid img:nth-child(2)");
  await page.click("#pickInterpB");
  await page.click("#interpolate");
  const interp1 = await decoded(page, "#interpImg");
  const steps = Number(await page.inputValue("#steps"));
  const interpWidth = await page.$eval("#interpImg", (i) => i.naturalWidth);
  check(interpWidth > steps * info.model.img_size, `the interpolation shows ${steps} images in a row`);
  await page.click("#grid img:nth-child(3)");
  await page.click("#pickInterpB");
  await page.click("#interpolate");
  const interp2 = await changed(page, "#interpImg", interp1);
  check(interp2 !== interp1, "another end point changes the interpolation");

  // Arithmetic A - B + C with images 1, 2, 3; then with C = image 4.
  await page.click("#grid img:nth-child(1)");
  await page.click("#pickArithA");
  await page.click("#grid img:nth-child(2)");
  await page.click("#pickArithB");
  await page.click("#grid img:nth-child(3)");
  await page.click("#pickArithC");
  await page.click("#arith");
  const arith1 = await decoded(page, "#arithImg");
  check(!cellPixels.includes(arith1), "A - B + C is none of the first images");
  await page.click("#grid img:nth-child(4)");
  await page.click("#pickArithC");
  await page.click("#arith");
  const arith2 = await changed(page, "#arithImg", arith1);
  check(arith2 !== arith1, "another C changes the arithmetic's image");

  // A slider moves the selected sample along a latent direction.
  const shift0 = await decoded(page, "#shiftImg");
  await page.$eval("#sliders .val", (r) => { r.value = "4"; r.dispatchEvent(new Event("input")); });
  const shift1 = await changed(page, "#shiftImg", shift0);
  check(shift1 !== shift0, "a latent-direction slider changes the image");

  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`screenshot: ${screenshot}`);

  // A refused request shows the server's message on the page.
  await page.fill("#steps", "1000");
  await page.click("#interpolate");
  await page.waitForFunction(() => document.getElementById("status").textContent.length > 0, null, { timeout: 30000 });
  const status = await page.textContent("#status");
  check(status.startsWith("400") && status.includes("steps"), `a refused request shows its message: ${status.trim()}`);
  check((await pixels(page, "#interpImg")) === interp2, "and leaves the image that was there");
});
