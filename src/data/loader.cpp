// BatchLoader (see src/data/loader.hpp). Prefetching protocol, two slots:
//   batch k (counted from the last (re)start) is written to slots_[k % 2]; the worker waits until
//   the slot is free (not ready and not held), fills it outside the lock, marks it ready. The
//   consumer's next() frees the slot it held, waits for slot consumed_ % 2 to be ready, holds it.
//   So the worker fills batch k + 1 while the caller works on batch k.
#include "data/loader.hpp"

#include <algorithm>
#include <cstring>

#include "dcgan/error.hpp"
#include "core/rng.hpp"

namespace dcgan {

std::vector<int64_t> epoch_permutation(uint64_t seed, int64_t epoch, int64_t n) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  Rng rng(mix64(seed ^ mix64(static_cast<uint64_t>(epoch) + 1)));
  rng.shuffle(p.begin(), p.end());
  return p;
}

BatchLoader::BatchLoader(const Dataset& ds, const LoaderOptions& opt)
    : BatchLoader(ds, opt, LoaderState{opt.seed, 0, 0}) {}

BatchLoader::BatchLoader(const Dataset& ds, const LoaderOptions& opt, const LoaderState& start) : ds_(ds), opt_(opt) {
  if (opt_.batch_size < 1) throw ConfigError(fmt::format("[loader] batch size {} must be at least 1", opt_.batch_size));
  if (ds_.n < 1) throw ConfigError("[loader] the dataset is empty");
  if (opt_.drop_last && ds_.n < opt_.batch_size)
    throw ConfigError(fmt::format("[loader] the dataset holds {} images, fewer than one batch of {}", ds_.n,
                                  opt_.batch_size),
                      "use a smaller batch size or more data");
  for (int v = 0; v < 256; ++v) lut_[v] = pixel_to_unit(static_cast<uint8_t>(v));
  restore(start);
}

BatchLoader::~BatchLoader() { stop_worker(); }

int64_t BatchLoader::batches_per_epoch() const {
  return opt_.drop_last ? ds_.n / opt_.batch_size : (ds_.n + opt_.batch_size - 1) / opt_.batch_size;
}

LoaderState BatchLoader::normalized(LoaderState s) const {
  const int64_t left = ds_.n - s.index_in_epoch;
  if (left <= 0 || (opt_.drop_last && left < opt_.batch_size)) {
    s.epoch += 1;
    s.index_in_epoch = 0;
  }
  return s;
}

LoaderState BatchLoader::advance(const LoaderState& s) const {
  LoaderState t = s;
  t.index_in_epoch += std::min(opt_.batch_size, ds_.n - s.index_in_epoch);
  return normalized(t);
}

void BatchLoader::restore(const LoaderState& s) {
  if (s.epoch < 0 || s.index_in_epoch < 0 || s.index_in_epoch > ds_.n)
    throw Error(fmt::format("[loader] cannot restore position epoch {} index {}: the dataset holds {} images", s.epoch,
                            s.index_in_epoch, ds_.n),
                "resume with the same dataset the checkpoint was trained on");
  stop_worker();
  pos_ = normalized(s);
}

void BatchLoader::fill(const LoaderState& s, Batch& out, PermCache& pc) const {
  const int64_t b = std::min(opt_.batch_size, ds_.n - s.index_in_epoch);
  if (opt_.shuffle && (pc.epoch != s.epoch || pc.seed != s.seed || static_cast<int64_t>(pc.perm.size()) != ds_.n)) {
    pc.perm = epoch_permutation(s.seed, s.epoch, ds_.n);
    pc.epoch = s.epoch;
    pc.seed = s.seed;
  }
  const int64_t bytes = ds_.image_bytes();
  out.images.resize({b, ds_.channels, ds_.height, ds_.width});
  out.indices.resize(static_cast<size_t>(b));
  out.labels.resize(ds_.labels.empty() ? 0 : static_cast<size_t>(b));
  out.epoch = s.epoch;
  out.index_in_epoch = s.index_in_epoch;
  float* dst = out.images.data();
  for (int64_t i = 0; i < b; ++i) {
    const int64_t j = s.index_in_epoch + i;
    const int64_t idx = opt_.shuffle ? pc.perm[j] : j;
    out.indices[i] = idx;
    if (!ds_.labels.empty()) out.labels[i] = ds_.labels[idx];
    const uint8_t* src = ds_.image(idx);
    float* d = dst + i * bytes;
    for (int64_t k = 0; k < bytes; ++k) d[k] = lut_[src[k]];  // pixel_to_unit, by table
  }
  if (opt_.on_batch) opt_.on_batch(out);
}

const Batch& BatchLoader::next() {
  if (!opt_.prefetch) {
    fill(pos_, sync_batch_, sync_perm_);
    pos_ = advance(pos_);
    return sync_batch_;
  }
  if (!running_) start_worker();
  std::unique_lock lk(mu_);
  if (held_ >= 0) {
    slots_[held_].ready = false;
    held_ = -1;
    cv_.notify_all();
  }
  const int k = static_cast<int>(consumed_ % 2);
  cv_.wait(lk, [&] { return slots_[k].ready; });
  if (slots_[k].error) std::rethrow_exception(slots_[k].error);  // the slot stays ready: rethrown again
  held_ = k;
  ++consumed_;
  pos_ = advance(pos_);
  return slots_[k].batch;
}

void BatchLoader::start_worker() {
  stop_ = false;
  consumed_ = 0;
  held_ = -1;
  for (auto& s : slots_) {
    s.ready = false;
    s.error = nullptr;
  }
  running_ = true;
  worker_ = std::thread(&BatchLoader::worker_loop, this, pos_);
}

void BatchLoader::stop_worker() {
  if (!running_) return;
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
  running_ = false;
  held_ = -1;
}

void BatchLoader::worker_loop(LoaderState s) {
  PermCache pc;
  for (int64_t k = 0;; ++k) {
    Slot& slot = slots_[k % 2];
    const int idx = static_cast<int>(k % 2);
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_ || (!slot.ready && held_ != idx); });
      if (stop_) return;
    }
    std::exception_ptr err;
    try {
      fill(s, slot.batch, pc);
    } catch (...) {
      err = std::current_exception();
    }
    {
      std::lock_guard lk(mu_);
      slot.error = err;
      slot.ready = true;
    }
    cv_.notify_all();
    if (err) return;
    s = advance(s);
  }
}

}  // namespace dcgan
