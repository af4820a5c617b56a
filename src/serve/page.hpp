// The explorer's web page, embedded in the binary: its title, style and body (script inline), put
// in the frame of page_frame.hpp; it loads nothing but this server's own /api endpoints (no CDN,
// no fonts, no network). Element ids are what tests/browser/serve_explorer.mjs drives; keep them
// when changing the page.
#pragma once
#include <string_view>

namespace dcgan::serve {

inline constexpr std::string_view kExplorerTitle = "dcgan explorer";

inline constexpr std::string_view kExplorerStyle = R"CSS(
  h2 { font-size: 15px; margin: 0 0 8px; }
  img { image-rendering: pixelated; background: #000; }
  #grid { display: grid; grid-template-columns: repeat(8, 72px); gap: 4px; }
  #grid img { width: 72px; height: 72px; cursor: pointer; border: 2px solid transparent; }
  #grid img.selected { border-color: #e07000; }
  #large { width: 256px; height: 256px; }
  .row { display: flex; gap: 12px; flex-wrap: wrap; align-items: flex-start; }
  .col { flex: 1 1 320px; }
  .strip { height: 96px; max-width: 100%; }
  .picks span { display: inline-block; min-width: 3em; font-weight: bold; }
  #status { color: #b00; min-height: 1.2em; white-space: pre-wrap; }
  #arithImg, #shiftImg { width: 128px; height: 128px; }
  label { margin-right: 8px; }
  input[type=number] { width: 6em; }
  .slider { display: flex; gap: 6px; align-items: center; margin: 2px 0; }
)CSS";

inline constexpr std::string_view kExplorerBody = R"PAGE(<h1>dcgan explorer</h1>
<div id="info">loading…</div>
<div id="status"></div>

<section>
  <h2>Samples</h2>
  <label>first seed <input id="start" type="number" min="0" value="0"></label>
  <label>count <select id="count"><option>8</option><option selected>16</option><option>32</option><option>64</option></select></label>
  <button id="show">show</button> <button id="random">random seeds</button>
  <p>Click an image to see it large and to pick it for the tools below.</p>
  <div id="grid"></div>
</section>

<div class="row">
<section class="col">
  <h2>Selected: seed <span id="current">none</span></h2>
  <img id="large" alt="selected sample" hidden>
  <div>
    <button id="pickInterpA" disabled>interpolation A</button>
    <button id="pickInterpB" disabled>interpolation B</button>
    <button id="pickArithA" disabled>arithmetic A</button>
    <button id="pickArithB" disabled>arithmetic B</button>
    <button id="pickArithC" disabled>arithmetic C</button>
  </div>
</section>

<section class="col">
  <h2>Latent directions (seed <span id="shiftSeed">none</span>)</h2>
  <div id="sliders"></div>
  <button id="resetShift">reset</button><br>
  <img id="shiftImg" alt="shifted sample" hidden>
</section>
</div>

<section>
  <h2>Interpolation</h2>
  <div class="picks">A: <span id="interpA">–</span> B: <span id="interpB">–</span>
    <label>steps <input id="steps" type="number" min="2" max="32" value="8"></label>
    <label>method <select id="method"><option>slerp</option><option>linear</option></select></label>
    <button id="interpolate" disabled>interpolate</button></div>
  <img id="interpImg" class="strip" alt="interpolation" hidden>
</section>

<section>
  <h2>Vector arithmetic: A − B + C</h2>
  <div class="picks">A: <span id="arithA">–</span> B: <span id="arithB">–</span> C: <span id="arithC">–</span>
    <button id="arith" disabled>compute</button></div>
  <img id="arithImg" alt="A - B + C" hidden>
</section>

<script>
"use strict";
const $ = (id) => document.getElementById(id);
const picks = { interpA: null, interpB: null, arithA: null, arithB: null, arithC: null };
let current = null, info = null;
const kSliders = 4;

// Shows an API image: fetched first, so that a refused request leaves the image that was there and
// shows the server's message (a 4xx carries one in plain text) instead of a broken image.
async function load(img, url) {
  try {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`${r.status}: ${await r.text()}`);
    const blob = await r.blob();
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(blob);
    img.hidden = false;
  } catch (e) {
    $("status").textContent = e.message;
  }
}

function showGrid() {
  const start = Math.max(0, Math.floor(Number($("start").value) || 0));
  const count = Number($("count").value);
  const grid = $("grid");
  grid.replaceChildren();
  for (let s = start; s < start + count; ++s) {
    const img = document.createElement("img");
    img.alt = `seed ${s}`;
    img.dataset.seed = String(s);
    img.addEventListener("click", () => select(s, img));
    load(img, `/api/sample?seed=${s}`);
    grid.appendChild(img);
  }
}

function select(seed, cell) {
  current = seed;
  for (const c of document.querySelectorAll("#grid img")) c.classList.toggle("selected", c === cell);
  $("current").textContent = String(seed);
  $("shiftSeed").textContent = String(seed);
  load($("large"), `/api/sample?seed=${seed}`);
  for (const b of document.querySelectorAll("button[id^=pick]")) b.disabled = false;
  updateShift();
}

function pick(slot) {
  picks[slot] = current;
  $(slot).textContent = String(current);
  $("interpolate").disabled = picks.interpA === null || picks.interpB === null;
  $("arith").disabled = picks.arithA === null || picks.arithB === null || picks.arithC === null;
}

function makeSliders(latentDim) {
  const box = $("sliders");
  for (let i = 0; i < Math.min(kSliders, latentDim); ++i) {
    const row = document.createElement("div");
    row.className = "slider";
    row.innerHTML = `dim <input type="number" class="dim" min="0" max="${latentDim - 1}" value="${i}">` +
      `<input type="range" class="val" min="-4" max="4" step="0.25" value="0"><span class="out">+0</span>`;
    row.querySelector(".val").addEventListener("input", (e) => {
      row.querySelector(".out").textContent = (e.target.value >= 0 ? "+" : "") + e.target.value;
      updateShift();
    });
    row.querySelector(".dim").addEventListener("change", updateShift);
    box.appendChild(row);
  }
}

function updateShift() {
  if (current === null) return;
  const parts = [];
  for (const row of document.querySelectorAll("#sliders .slider")) {
    const v = Number(row.querySelector(".val").value);
    if (v !== 0) parts.push(`${row.querySelector(".dim").value}:${v}`);
  }
  load($("shiftImg"), `/api/sample?seed=${current}` + (parts.length ? `&shift=${parts.join(",")}` : ""));
}

async function init() {
  try {
    const r = await fetch("/api/info");
    info = await r.json();
    const m = info.model;
    $("info").textContent = `${info.checkpoint}: ${m.arch}, ${m.img_size}×${m.img_size}×${m.channels}, ` +
      `latent ${m.latent_dim}`;
    makeSliders(m.latent_dim);
  } catch (e) { $("status").textContent = `cannot read /api/info: ${e}`; }
  // A message stays until the next click.
  document.addEventListener("click", () => { $("status").textContent = ""; }, true);
  $("show").addEventListener("click", showGrid);
  $("random").addEventListener("click", () => { $("start").value = Math.floor(Math.random() * 1e6); showGrid(); });
  for (const slot of Object.keys(picks)) $("pick" + slot[0].toUpperCase() + slot.slice(1)).addEventListener("click", () => pick(slot));
  $("resetShift").addEventListener("click", () => {
    for (const row of document.querySelectorAll("#sliders .slider")) {
      row.querySelector(".val").value = 0;
      row.querySelector(".out").textContent = "+0";
    }
    updateShift();
  });
  $("interpolate").addEventListener("click", () => load($("interpImg"),
    `/api/interpolate?a=${picks.interpA}&b=${picks.interpB}&steps=${Number($("steps").value)}&method=${$("method").value}`));
  $("arith").addEventListener("click", () => load($("arithImg"),
    `/api/arith?a=${picks.arithA}&b=${picks.arithB}&c=${picks.arithC}`));
  showGrid();
}
init();
</script>
)PAGE";

}  // namespace dcgan::serve
