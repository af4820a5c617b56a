// dcgan_bench: the measuring instrument behind docs/performance.md (driven by bench/compare.py).
// One mode per process, so the peak RSS it reports belongs to one configuration.
//
//   dcgan_bench train    --arch seed --img-size 32 --channels 1 --batch 64 --warmup 5 --steps 30 --threads 2
//       GanStep (src/train/gan_step.hpp) on fixed random in-memory data and latents
//       (a pool of 4 batches, cycled); per-step wall times, median, img/s, GFLOP/s.
//   dcgan_bench generate --arch dcgan --img-size 64 --channels 3 --batch 1 --warmup 10 --steps 200
//       Eval-mode forward of build_generator (what ImageGenerator::generate runs) plus the copy
//       into a caller's buffer; per-run times, median (= latency at batch 1), img/s.
//   dcgan_bench gemm     --threads 2 [--sizes 512,1024,1536,2048] [--min-time 0.4]
//       The GEMM ceiling in the same run: square C = A B (row-major sgemm) through oneDNN's
//       dnnl_sgemm (OpenMP threads = T) and OpenBLAS's cblas_sgemm (openblas_set_num_threads(T));
//       reports the median rate per (library, size) and the best of them.
//   dcgan_bench flops    --arch dcgan --img-size 64 --channels 3
//       The FLOP count alone, per layer (bench/flops.hpp).
//
// Output: one JSON object on stdout (progress and errors on stderr). Fields shared with
// bench/pytorch_bench.py: impl, mode, arch, img_size, channels, ngf, ndf, latent_dim, batch,
// threads, warmup, steps, times_ms, median_ms, img_per_s, flop_per_image, gflops, peak_rss_mb
// (VmHWM; ru_maxrss_mb beside it).
// FLOPs: 2 x multiply-adds of conv / convT / linear layers over forward, data-gradient and
// weight-gradient passes (bench/flops.hpp).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <cblas.h>
#include <nlohmann/json.hpp>
#include <oneapi/dnnl/dnnl.h>

#include "dcgan/error.hpp"
#include "dcgan/threads.hpp"
#include "core/rng.hpp"
#include "flops.hpp"
#include "models/models.hpp"
#include "train/gan_step.hpp"

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace dcgan::bench {
namespace {

struct ModelOpts {
  std::string arch = "seed";
  int img_size = 32, channels = 1, latent = 100, ngf = 0, ndf = 0, kernel = 4;
  int64_t batch = 64;
  int warmup = 3, steps = 20, threads = 2;
  double max_seconds = 0;  // > 0: stop timing once this much time was spent on timed iterations
  int min_steps = 3;       // ... but only after at least this many
  uint64_t seed = 0;

  ModelConfig config() const {
    DCGAN_CHECK(batch >= 1 && steps >= 1 && warmup >= 0 && threads >= 1,
                "[bench] need --batch >= 1, --steps >= 1, --warmup >= 0, --threads >= 1");
    ModelConfig c = ModelConfig::defaults(arch);
    c.img_size = img_size;
    c.channels = channels;
    c.latent_dim = latent;
    c.kernel = kernel;
    if (ngf > 0) c.ngf = ngf;
    if (ndf > 0) c.ndf = ndf;
    c.validate();
    return c;
  }
};

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Peak resident set size of this process image in MiB: VmHWM from /proc/self/status (the
// high-water mark of this address space). getrusage's ru_maxrss is reported too, but on Linux it
// survives exec: a child of a big parent (e.g. a Python driver that imported torch) starts with
// the parent's peak, so it cannot be trusted for small processes.
double vm_hwm_mb() {
  if (FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    long kb = -1;
    while (std::fgets(line, sizeof line, f))
      if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
    std::fclose(f);
    if (kb >= 0) return double(kb) / 1024.0;
  }
  return -1;
}
double ru_maxrss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;  // Linux: KiB
}
double peak_rss_mb() {
  const double hwm = vm_hwm_mb();
  return hwm >= 0 ? hwm : ru_maxrss_mb();
}

// Runs fn(i) for o.warmup untimed then up to o.steps timed iterations (fewer when o.max_seconds
// runs out, but at least o.min_steps); returns the timed iterations' wall times in ms.
template <class Fn>
std::vector<double> timed_loop(const ModelOpts& o, Fn&& fn) {
  std::vector<double> times;
  double spent = 0;
  for (int i = 0; i < o.warmup + o.steps; ++i) {
    const auto t0 = clock_type::now();
    fn(i);
    const double ms = ms_since(t0);
    if (i < o.warmup) continue;
    times.push_back(ms);
    spent += ms;
    if (o.max_seconds > 0 && spent > o.max_seconds * 1000 && int(times.size()) >= o.min_steps) break;
  }
  return times;
}

json model_fields(const ModelOpts& o, const ModelConfig& c, const char* mode) {
  return {{"impl", "dcgan"},          {"mode", mode},
          {"arch", c.arch},           {"img_size", c.img_size},
          {"channels", c.channels},   {"ngf", c.ngf},
          {"ndf", c.ndf},             {"latent_dim", c.latent_dim},
          {"kernel", c.kernel},       {"batch", o.batch},
          {"threads", o.threads},     {"warmup", o.warmup},
          {"steps_requested", o.steps}, {"max_seconds", o.max_seconds}};
}

json flops_json(const ModelFlops& f) {
  auto net = [](const NetFlops& n) {
    json layers = json::array();
    for (auto& l : n.layers)
      layers.push_back({{"name", l.name}, {"layer", l.describe}, {"flop_per_image", 2 * l.macs}});
    return json{{"forward_flop_per_image", n.fwd}, {"layers", layers}};
  };
  return {{"generator", net(f.G)},
          {"discriminator", net(f.D)},
          {"train_flop_per_image", f.train},
          {"train_flop_per_image_executed", f.executed},
          {"generate_flop_per_image", f.generate}};
}

// Uniform [-1, 1] "images" and N(0, 1) latents, made once; `pool` batches of each, cycled.
struct Pool {
  std::vector<Tensor> real, z;
};
Pool make_pool(const ModelConfig& c, int64_t B, int pool, uint64_t seed) {
  Pool p;
  Rng rng(seed ^ 0x62656e6368ULL);
  for (int i = 0; i < pool; ++i) {
    Tensor r({B, c.channels, c.img_size, c.img_size});
    for (int64_t j = 0; j < r.numel(); ++j) r[j] = float(2 * rng.uniform() - 1);
    Tensor z({B, c.latent_dim});
    for (int64_t j = 0; j < z.numel(); ++j) z[j] = rng.normal();
    p.real.push_back(std::move(r));
    p.z.push_back(std::move(z));
  }
  return p;
}

json run_train(const ModelOpts& o) {
  const ModelConfig c = o.config();
  set_num_threads(o.threads);
  const ModelFlops f = model_flops(c);
  GanStep gs(c, GanOptions{});
  Rng init(o.seed);
  init_dcgan_weights(*gs.G, init);
  init_dcgan_weights(*gs.D, init);
  const int pool_n = 4;
  Pool pool = make_pool(c, o.batch, pool_n, o.seed);
  StepStats s;
  const std::vector<double> times =
      timed_loop(o, [&](int i) { s = gs.step(pool.real[i % pool_n], pool.z[i % pool_n]); });
  const double med = median(times);
  const double ips = med > 0 ? double(o.batch) * 1000.0 / med : 0;
  json j = model_fields(o, c, "train");
  j["steps"] = times.size();
  j["times_ms"] = times;
  j["median_ms"] = med;
  j["img_per_s"] = ips;
  j["flop_per_image"] = f.train;
  j["gflops"] = f.train * ips / 1e9;
  j["gflops_executed"] = f.executed * ips / 1e9;
  j["peak_rss_mb"] = peak_rss_mb();
  j["ru_maxrss_mb"] = ru_maxrss_mb();
  j["last_losses"] = {{"d", s.d_loss}, {"g", s.g_loss}};
  j["flops"] = flops_json(f);
  return j;
}

json run_generate(const ModelOpts& o) {
  const ModelConfig c = o.config();
  set_num_threads(o.threads);
  const ModelFlops f = model_flops(c);
  auto G = build_generator(c);
  Rng init(o.seed);
  init_dcgan_weights(*G, init);
  Pool pool = make_pool(c, o.batch, 2, o.seed);
  Tensor out({o.batch, c.channels, c.img_size, c.img_size});  // the caller's buffer
  const std::vector<double> times = timed_loop(o, [&](int i) {
    const Tensor& y = G->forward(pool.z[i % 2], Mode::eval);
    std::memcpy(out.data(), y.data(), size_t(y.numel()) * sizeof(float));
  });
  const double med = median(times);
  const double ips = med > 0 ? double(o.batch) * 1000.0 / med : 0;
  json j = model_fields(o, c, "generate");
  j["steps"] = times.size();
  j["times_ms"] = times;
  j["median_ms"] = med;
  j["latency_ms_per_image"] = med / double(o.batch);
  j["img_per_s"] = ips;
  j["flop_per_image"] = f.generate;
  j["gflops"] = f.generate * ips / 1e9;
  j["peak_rss_mb"] = peak_rss_mb();
  j["ru_maxrss_mb"] = ru_maxrss_mb();
  return j;
}

json run_flops(const ModelOpts& o) {
  const ModelConfig c = o.config();
  json j = model_fields(o, c, "flops");
  j["flops"] = flops_json(model_flops(c));
  return j;
}

// ---- GEMM ceiling ---------------------------------------------------------------------------

struct GemmResult {
  std::string lib;
  int64_t n = 0;
  std::vector<double> gflops;  // one per repetition
};

// Times fn (one n x n x n sgemm) after one warm-up call, for at least min_time seconds and 3 reps.
template <class Fn>
GemmResult time_gemm(const char* lib, int64_t n, double min_time, Fn&& fn) {
  GemmResult r{lib, n, {}};
  fn();
  const double flop = 2.0 * double(n) * double(n) * double(n);
  const auto start = clock_type::now();
  while (r.gflops.size() < 3 || ms_since(start) < min_time * 1000) {
    const auto t0 = clock_type::now();
    fn();
    r.gflops.push_back(flop / (ms_since(t0) * 1e-3) / 1e9);
    if (r.gflops.size() >= 1000) break;
  }
  return r;
}

json run_gemm(int threads, const std::vector<int64_t>& sizes, double min_time, bool openblas) {
  std::vector<GemmResult> results;
  for (int64_t n : sizes) {
    std::vector<float> A(size_t(n * n)), B(size_t(n * n)), C(size_t(n * n));
    Rng rng{static_cast<uint64_t>(n)};
    for (auto& v : A) v = float(rng.uniform() - 0.5);
    for (auto& v : B) v = float(rng.uniform() - 0.5);
    // oneDNN: its OpenMP threads; OpenBLAS single-threaded meanwhile (the library's setting).
    set_num_threads(threads);
    results.push_back(time_gemm("onednn", n, min_time, [&] {
      dnnl_status_t st = dnnl_sgemm('N', 'N', n, n, n, 1.f, A.data(), n, B.data(), n, 0.f, C.data(), n);
      DCGAN_CHECK(st == dnnl_success, "[gemm] dnnl_sgemm failed with status {}", int(st));
    }));
    if (openblas) {
      // OpenBLAS (pthreads build on Debian): its own threads; OpenMP is idle meanwhile.
      openblas_set_num_threads(threads);
      results.push_back(time_gemm("openblas", n, min_time, [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n), int(n), int(n), 1.f, A.data(),
                    int(n), B.data(), int(n), 0.f, C.data(), int(n));
      }));
      openblas_set_num_threads(1);
    }
  }
  json runs = json::array();
  double best = 0;
  std::string best_lib;
  int64_t best_n = 0;
  for (auto& r : results) {
    const double med = median(r.gflops);
    const double mx = *std::max_element(r.gflops.begin(), r.gflops.end());
    runs.push_back({{"lib", r.lib}, {"n", r.n}, {"reps", r.gflops.size()},
                    {"median_gflops", med}, {"max_gflops", mx}});
    if (med > best) best = med, best_lib = r.lib, best_n = r.n;
  }
  return {{"impl", "dcgan"}, {"mode", "gemm"}, {"threads", threads}, {"runs", runs},
          {"best_gflops", best}, {"best_lib", best_lib}, {"best_n", best_n},
          {"peak_rss_mb", peak_rss_mb()}, {"ru_maxrss_mb", ru_maxrss_mb()}};
}

void add_model_options(CLI::App* cmd, ModelOpts& o, int warmup, int steps, int64_t batch) {
  o.warmup = warmup;
  o.steps = steps;
  o.batch = batch;
  cmd->add_option("--arch", o.arch, "seed | dcgan")->capture_default_str();
  cmd->add_option("--img-size", o.img_size, "Image size: 16 * 2^k")->capture_default_str();
  cmd->add_option("--channels", o.channels, "1 or 3")->capture_default_str();
  cmd->add_option("--latent-dim", o.latent, "Latent size")->capture_default_str();
  cmd->add_option("--ngf", o.ngf, "Generator width (default: seed 16, dcgan 64)");
  cmd->add_option("--ndf", o.ndf, "Discriminator width (default: seed 16, dcgan 64)");
  cmd->add_option("--kernel", o.kernel, "4 or 5")->capture_default_str();
  cmd->add_option("--batch", o.batch, "Batch size")->capture_default_str();
  cmd->add_option("--warmup", o.warmup, "Untimed iterations first")->capture_default_str();
  cmd->add_option("--steps", o.steps, "Timed iterations")->capture_default_str();
  cmd->add_option("--max-seconds", o.max_seconds,
                  "Stop timing after this many seconds of timed iterations (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--min-steps", o.min_steps, "Timed iterations kept even past --max-seconds")
      ->capture_default_str();
  cmd->add_option("--threads", o.threads, "CPU threads (OpenMP / oneDNN)")->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seed of the weights, data and latents")->capture_default_str();
}

}  // namespace
}  // namespace dcgan::bench

int main(int argc, char** argv) {
  using namespace dcgan::bench;
  CLI::App app{"dcgan_bench: training / generation / GEMM timings as JSON (see bench/compare.py)"};
  app.require_subcommand(1);
  ModelOpts train_o, gen_o, flops_o;
  auto* train = app.add_subcommand("train", "Time GanStep on fixed in-memory data");
  add_model_options(train, train_o, 3, 20, 64);
  auto* gen = app.add_subcommand("generate", "Time eval-mode generator forward passes");
  add_model_options(gen, gen_o, 10, 200, 1);
  auto* fl = app.add_subcommand("flops", "Print the FLOP count per layer and per image");
  add_model_options(fl, flops_o, 0, 1, 1);
  int gemm_threads = 2;
  std::vector<int64_t> sizes{512, 1024, 1536, 2048};
  double min_time = 0.4;
  bool no_openblas = false;
  auto* gemm = app.add_subcommand("gemm", "Measure the square-sgemm ceiling (oneDNN and OpenBLAS)");
  gemm->add_option("--threads", gemm_threads, "Threads")->capture_default_str();
  gemm->add_option("--sizes", sizes, "Square sizes")->delimiter(',')->capture_default_str();
  gemm->add_option("--min-time", min_time, "Seconds per (library, size), at least 3 reps")
      ->capture_default_str();
  gemm->add_flag("--no-openblas", no_openblas, "oneDNN only");
  CLI11_PARSE(app, argc, argv);
  try {
    json j;
    if (*train) j = run_train(train_o);
    else if (*gen) j = run_generate(gen_o);
    else if (*fl) j = run_flops(flops_o);
    else j = run_gemm(gemm_threads, sizes, min_time, !no_openblas);
    std::printf("%s\n", j.dump().c_str());
    return 0;
  } catch (const dcgan::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    if (!e.hint().empty()) std::fprintf(stderr, "HINT: %s\n", e.hint().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  }
  return 1;
}
