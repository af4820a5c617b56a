#include "serve/explorer.hpp"

#include <span>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dcgan/io/image.hpp"
#include "dcgan/latents.hpp"
#include "serve/page.hpp"
#include "serve/page_frame.hpp"
#include "serve/query.hpp"

namespace dcgan::serve {

namespace {

constexpr const char* kEndpoints =
    "/, /api/info, /api/sample, /api/grid, /api/interpolate, /api/arith, /api/sweep (docs/serving.md)";

}  // namespace

Explorer::Explorer(ImageGenerator gen, std::string name) : gen_(std::move(gen)), name_(std::move(name)) {}

Reply Explorer::handle(const std::string& path, const Params& params) {
  if (path == "/" || path == "/index.html") {
    Query(params).check_names({});
    return {200, "text/html; charset=utf-8", html_page(kExplorerTitle, kExplorerStyle, kExplorerBody)};
  }
  if (path == "/api/info") {
    Query(params).check_names({});
    return info();
  }
  if (path == "/api/sample") return sample(params);
  if (path == "/api/grid") return grid(params);
  if (path == "/api/interpolate") return interpolate(params);
  if (path == "/api/arith") return arith(params);
  if (path == "/api/sweep") return sweep(params);
  throw BadRequest(fmt::format("no such page; the explorer serves {}", kEndpoints), 404);
}

Reply Explorer::info() const {
  const ModelConfig& m = gen_.config();
  nlohmann::json j = {
      {"checkpoint", name_},
      {"model", {{"arch", m.arch}, {"img_size", m.img_size}, {"channels", m.channels}, {"latent_dim", m.latent_dim}}},
      {"limits",
       {{"max_grid", kLimits.max_grid}, {"max_steps", kLimits.max_steps}, {"max_shift", kLimits.max_shift},
        {"max_abs_value", kLimits.max_abs_value}, {"max_seed", Query::kMaxSeed}}}};
  return {200, "application/json", j.dump()};
}

Tensor Explorer::latent(uint64_t seed) const { return gen_.random_latents(1, seed); }

Reply Explorer::png(const Tensor& z, int nrow) {
  Tensor img;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    img = gen_.generate(z);
  }
  const std::vector<uint8_t> bytes = encode_png(make_grid(img, nrow));
  return {200, "image/png", std::string(bytes.begin(), bytes.end())};
}

// /api/sample?seed=S[&shift=D:V,D:V...]: one image; `shift` adds V to coordinate D of the latent
// (the page's sliders: a step along axis D, 0 leaving the image as it is).
Reply Explorer::sample(const Params& params) {
  Query q(params);
  q.check_names({"seed", "shift"});
  Tensor z = latent(q.seed("seed"));
  if (q.has("shift")) {
    const std::string spec = params.find("shift")->second;
    const int64_t L = gen_.config().latent_dim;
    size_t start = 0;
    for (int n = 0; start <= spec.size(); ++n) {
      if (n == kLimits.max_shift)
        throw BadRequest(fmt::format("parameter 'shift' holds more than {} coordinates", kLimits.max_shift), 413);
      const size_t comma = std::min(spec.find(',', start), spec.size());
      const std::string item = spec.substr(start, comma - start);
      const size_t colon = item.find(':');
      if (colon == std::string::npos)
        throw BadRequest("bad parameter shift: give DIM:VALUE pairs separated by commas, e.g. shift=0:1.5,3:-2");
      // One pair read through the same bounded readers as whole parameters.
      const Params pair = {{"dim", item.substr(0, colon)}, {"value", item.substr(colon + 1)}};
      try {
        const int64_t d = Query(pair).integer("dim", 0, L - 1);
        z.data()[d] += float(Query(pair).number("value", -kLimits.max_abs_value, kLimits.max_abs_value));
      } catch (const BadRequest& e) {
        throw BadRequest(fmt::format("bad parameter shift: {}", e.what()));
      }
      start = comma + 1;
    }
  }
  return png(z, 1);
}

// /api/grid?seeds=S1,S2,...[&nrow=N]: one image per seed in a grid.
Reply Explorer::grid(const Params& params) {
  Query q(params);
  q.check_names({"seeds", "nrow"});
  const std::vector<uint64_t> seeds = q.seeds("seeds", size_t(kLimits.max_grid));
  const int nrow = int(q.integer("nrow", 1, kLimits.max_grid, 8));
  return png(seed_latents(gen_, seeds), nrow);
}

// /api/interpolate?a=S1&b=S2[&steps=8][&method=slerp|linear]: a row of `steps` images from a to b.
Reply Explorer::interpolate(const Params& params) {
  Query q(params);
  q.check_names({"a", "b", "steps", "method"});
  const Tensor a = latent(q.seed("a")), b = latent(q.seed("b"));
  const int steps = int(q.integer("steps", 2, kLimits.max_steps, 8));
  const bool slerp = q.choice("method", {"slerp", "linear"}, "slerp") == "slerp";
  return png(interpolate_latents(a.data(), b.data(), gen_.config().latent_dim, steps, slerp), steps);
}

// /api/arith?a=SA&b=SB&c=SC: the image of z_a - z_b + z_c ("man with glasses - man + woman"),
// computed as `dcgan arithmetic --a SA --b SB --c SC` computes its result (dcgan/latents.hpp).
Reply Explorer::arith(const Params& params) {
  Query q(params);
  q.check_names({"a", "b", "c"});
  return png(latent_arithmetic(latent(q.seed("a")), latent(q.seed("b")), latent(q.seed("c"))), 1);
}

// /api/sweep?seed=S&dim=D[&from=-3][&to=3][&steps=8]: a row of images with coordinate D of the
// seed's latent going from `from` to `to` (a row of `dcgan sweep`, dcgan/latents.hpp).
Reply Explorer::sweep(const Params& params) {
  Query q(params);
  q.check_names({"seed", "dim", "from", "to", "steps"});
  const Tensor z0 = latent(q.seed("seed"));
  const int64_t L = gen_.config().latent_dim;
  const int64_t d = q.integer("dim", 0, L - 1);
  const double lim = kLimits.max_abs_value;
  const double from = q.number("from", -lim, lim, -3.0), to = q.number("to", -lim, lim, 3.0);
  const int steps = int(q.integer("steps", 2, kLimits.max_steps, 8));
  return png(latent_sweep(z0, std::span<const int64_t>(&d, 1), from, to, steps), steps);
}

}  // namespace dcgan::serve
