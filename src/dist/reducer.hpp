// GradientReducer: averages one network's parameter gradients over the ranks, in buckets that
// start all-reducing during the backward pass.
//
// The flat gradient buffer (nn/sequential.hpp) holds the layers' gradients in layer order, and
// backward runs from the last layer to the first, so the buffer's tail is final first. The buffer
// is cut into buckets of whole layers, about kBucketFloats each, from the end; when backward
// finishes the first layer of a bucket (layer_done), that bucket's non-blocking all-reduce
// starts, and later layer_done calls let MPI move it along while backward computes. finish()
// starts what is left, waits for everything and divides by the number of ranks: every rank then
// holds the mean gradient of the global batch (each rank's loss is the mean over its own share,
// and the shares are equal).
//
// DCGAN_DIST_OVERLAP=0 in the environment turns the overlap off (one blocking all-reduce of the
// whole buffer in finish()), to measure what the overlap hides (docs/distributed.md).
#pragma once
#include <cstdint>
#include <vector>

#include "dist/comm.hpp"
#include "nn/sequential.hpp"

namespace dcgan::dist {

class GradientReducer {
 public:
  static constexpr int64_t kBucketFloats = 256 * 1024;  // 1 MB
  GradientReducer(Comm& comm, Sequential& net);
  // Sequential::backward's layer_done hook for the backward pass that completes the gradients.
  void layer_done(size_t layer);
  // All buckets reduced and divided by the number of ranks.
  void finish();
  // Seconds spent waiting for communication (in finish), summed over calls: what the overlap did
  // not hide.
  double wait_seconds() const { return wait_s_; }
  int64_t floats() const { return grads_->numel(); }

 private:
  struct Bucket {
    int64_t begin = 0, end = 0;  // float range in the flat buffer
    size_t launch_layer = 0;     // its first layer: the last to finish backward
    bool started = false;
  };
  void start(Bucket& b);
  Comm& comm_;
  Tensor* grads_;
  std::vector<Bucket> buckets_;
  bool overlap_ = true;
  double wait_s_ = 0;
};

}  // namespace dcgan::dist
