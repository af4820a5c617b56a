#include "dist/reducer.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>

namespace dcgan::dist {

GradientReducer::GradientReducer(Comm& comm, Sequential& net) : comm_(comm), grads_(&net.param_grads()) {
  const char* env = std::getenv("DCGAN_DIST_OVERLAP");
  overlap_ = !(env && std::string(env) == "0");
  const float* base = grads_->data();
  auto& layers = net.layers();
  // Each layer's range in the flat buffer; layers without parameters have none.
  Bucket cur;
  bool open = false;
  for (size_t i = layers.size(); i-- > 0;) {
    int64_t lo = -1, hi = -1;
    for (auto& p : layers[i]->params()) {
      const int64_t off = p.grad.data() - base;
      lo = lo < 0 ? off : std::min(lo, off);
      hi = std::max(hi, off + p.grad.numel());
    }
    if (lo < 0) continue;
    if (!open) cur = Bucket{lo, hi, i, false}, open = true;
    else cur.begin = std::min(cur.begin, lo), cur.end = std::max(cur.end, hi), cur.launch_layer = i;
    if (cur.end - cur.begin >= kBucketFloats) buckets_.push_back(cur), open = false;
  }
  if (open) buckets_.push_back(cur);
}

void GradientReducer::start(Bucket& b) {
  comm_.iallreduce_sum(grads_->data() + b.begin, b.end - b.begin);
  b.started = true;
}

void GradientReducer::layer_done(size_t layer) {
  if (comm_.size() == 1 || !overlap_) return;
  for (Bucket& b : buckets_)
    if (!b.started && b.launch_layer == layer) start(b);
  comm_.progress();
}

void GradientReducer::finish() {
  if (comm_.size() == 1) return;
  const auto t0 = std::chrono::steady_clock::now();
  if (overlap_) {
    for (Bucket& b : buckets_)
      if (!b.started) start(b);
    comm_.wait_all();
  } else {
    comm_.allreduce_sum(grads_->data(), grads_->numel());
  }
  wait_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (Bucket& b : buckets_) b.started = false;
  const float inv = 1.f / float(comm_.size());
  float* g = grads_->data();
  const int64_t n = grads_->numel();
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) g[i] *= inv;
}

}  // namespace dcgan::dist
