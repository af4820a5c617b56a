// The live training view's web page (dcgan train --serve), embedded in the binary: its title,
// style and body (script inline), put in the frame of page_frame.hpp. It polls this server's own
// endpoints once a second (nothing from the network) and is read-only: it has no control over
// the run. Element ids are what tests/browser/live_view.mjs reads.
#pragma once
#include <string_view>

namespace dcgan::serve {

inline constexpr std::string_view kLiveTitle = "dcgan training";

inline constexpr std::string_view kLiveStyle = R"CSS(
  #grid { image-rendering: pixelated; width: 384px; background: #000; }
  #status { font-variant-numeric: tabular-nums; }
  #error { color: #b00; min-height: 1.2em; }
  .row { display: flex; gap: 12px; flex-wrap: wrap; }
  .key span { display: inline-block; width: 12px; height: 3px; vertical-align: middle; margin: 0 4px 0 10px; }
)CSS";

inline constexpr std::string_view kLiveBody = R"PAGE(<h1>dcgan training: <span id="name">…</span></h1>
<div id="status">waiting for the first step…</div>
<div id="error"></div>
<div class="row">
<section><div>fixed noise, generator in eval mode, step <span id="gridStep">–</span></div>
  <img id="grid" alt="fixed-noise grid" hidden></section>
<section>
  <div class="key">losses<span style="background:#d62728"></span>D<span style="background:#1f77b4"></span>G</div>
  <canvas id="losses" width="560" height="220"></canvas>
  <div class="key">discriminator outputs<span style="background:#2ca02c"></span>D(x)<span style="background:#9467bd"></span>D(G(z))</div>
  <canvas id="outputs" width="560" height="160"></canvas>
</section>
</div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let points = [];  // [step, d_loss, g_loss, d_real, d_fake]
let lastStep = 0, gridStep = -1;

// Lines of columns `cols` of `points` against step; y range from the data unless given.
function plot(canvas, cols, colors, yRange) {
  const g = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pad = 36;
  g.clearRect(0, 0, W, H);
  g.fillStyle = "#fff";
  g.fillRect(0, 0, W, H);
  if (points.length === 0) return;
  const x0 = points[0][0], x1 = Math.max(points[points.length - 1][0], x0 + 1);
  let lo = Infinity, hi = -Infinity;
  if (yRange) [lo, hi] = yRange;
  else for (const p of points) for (const c of cols) if (p[c] !== null) { lo = Math.min(lo, p[c]); hi = Math.max(hi, p[c]); }
  if (!(hi > lo)) { hi = lo + 1; }
  const X = (s) => pad + (W - pad - 8) * (s - x0) / (x1 - x0);
  const Y = (v) => H - 18 - (H - 26) * (v - lo) / (hi - lo);
  g.strokeStyle = "#ccc";
  g.strokeRect(pad, 8, W - pad - 8, H - 26);
  g.fillStyle = "#555";
  g.font = "11px sans-serif";
  g.fillText(hi.toPrecision(3), 2, 14);
  g.fillText(lo.toPrecision(3), 2, H - 18);
  g.fillText(String(x0), pad, H - 4);
  g.fillText(String(x1), W - 8 - g.measureText(String(x1)).width, H - 4);
  cols.forEach((c, i) => {
    g.strokeStyle = colors[i];
    g.beginPath();
    let pen = false;
    for (const p of points) {
      if (p[c] === null) { pen = false; continue; }
      if (pen) g.lineTo(X(p[0]), Y(p[c])); else g.moveTo(X(p[0]), Y(p[c]));
      pen = true;
    }
    g.stroke();
  });
}

async function poll() {
  try {
    const st = await (await fetch("/api/status")).json();
    $("name").textContent = st.run.name;
    const m = st.run.model;
    $("status").textContent = `step ${st.step}` + (st.target_steps ? ` of ${st.target_steps}` : "") +
      `, epoch ${st.epoch}, ${st.img_per_s.toFixed(0)} img/s, ${st.elapsed_s.toFixed(0)} s; ` +
      `${m.arch} ${m.img_size}×${m.img_size}×${m.channels}, batch ${st.run.batch_size}` +
      (st.finished ? " — finished" : "");
    if (st.grid_step !== gridStep && st.grid_step >= 0) {
      const r = await fetch(`/api/grid.png?step=${st.grid_step}`);
      if (r.ok) {
        const img = $("grid");
        if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
        img.src = URL.createObjectURL(await r.blob());
        img.hidden = false;
        gridStep = st.grid_step;
        $("gridStep").textContent = String(gridStep);
      }
    }
    const mr = await (await fetch(`/api/metrics?since=${lastStep}`)).json();
    if (mr.points.length) {
      points = points.concat(mr.points);
      lastStep = points[points.length - 1][0];
      // Bounded in the page too: every other point goes when there are many.
      if (points.length > 8192) points = points.filter((p, i) => i % 2 === 0 || i === points.length - 1);
    }
    plot($("losses"), [1, 2], ["#d62728", "#1f77b4"]);
    plot($("outputs"), [3, 4], ["#2ca02c", "#9467bd"], [0, 1]);
    $("error").textContent = "";
  } catch (e) {
    $("error").textContent = "no answer from the training process (it has ended, or was stopped)";
  }
}
poll();
setInterval(poll, 1000);
</script>
)PAGE";

}  // namespace dcgan::serve
