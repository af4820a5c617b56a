// BatchLoader: shuffled float batches (B, C, H, W) in [-1, 1] (x / 127.5 - 1) over a Dataset,
// filled by a background thread while the caller trains on the previous batch (double
// buffering). Its position (seed, epoch, index in epoch) is saved in checkpoints and restored
// exactly: resuming mid-epoch yields the identical remaining batch sequence.
//
// Order: epoch e visits the images in epoch_permutation(seed, e, N): a Fisher-Yates shuffle of
// 0..N-1 driven by Rng(mix(seed, e)) (mix: splitmix64 finaliser of seed ^ splitmix64(e + 1)),
// so any epoch's order is recomputed from (seed, e) alone. With shuffle = false the order is 0..N-1.
// drop_last (default true, as the trainer uses): the N % B images left at the end of an epoch's
// permutation are not used in that epoch; with drop_last = false the last batch is smaller.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "dcgan/data/dataset.hpp"
#include "dcgan/tensor.hpp"

namespace dcgan {


struct Batch {
  Tensor images;                  // (B, C, H, W) in [-1, 1]
  std::vector<uint8_t> labels;    // (B); empty when the dataset has no labels
  std::vector<int64_t> indices;   // (B) dataset indices of the images
  int64_t epoch = 0;              // epoch this batch belongs to
  int64_t index_in_epoch = 0;     // position of its first image in the epoch's permutation
};

struct LoaderOptions {
  int64_t batch_size = 64;
  uint64_t seed = 0;
  bool shuffle = true;
  bool drop_last = true;
  bool prefetch = true;  // false: batches are made on the caller's thread (same values)
  // Optional, called on each filled batch on the thread that makes it (the worker when
  // prefetching), e.g. for augmentation; an exception it throws is rethrown by next(). To stay
  // reproducible it should depend only on the batch (its epoch, index_in_epoch, indices).
  std::function<void(Batch&)> on_batch;
};

// The permutation of 0..n-1 for epoch `epoch` (see above).
std::vector<int64_t> epoch_permutation(uint64_t seed, int64_t epoch, int64_t n);

class BatchLoader {
 public:
  // `ds` must outlive the loader. Throws dcgan::ConfigError if batch_size < 1 or, with drop_last,
  // the dataset holds fewer images than one batch.
  BatchLoader(const Dataset& ds, const LoaderOptions& opt);
  BatchLoader(const Dataset& ds, const LoaderOptions& opt, const LoaderState& start);
  ~BatchLoader();  // stops and joins the worker
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The next batch. The reference (and its tensor's storage) stays valid until the next call to
  // next() or restore(). An exception raised while making the batch is rethrown here.
  const Batch& next();

  // Position of the batch the next call to next() returns, normalised: an exhausted epoch reads
  // as {seed, epoch + 1, 0}. Saved in checkpoints.
  LoaderState state() const { return pos_; }
  // Jump to a saved position (stops the worker, restarts it lazily). The seed comes from `s`.
  // Throws dcgan::Error if index_in_epoch is outside [0, N].
  void restore(const LoaderState& s);

  int64_t batches_per_epoch() const;
  int64_t batch_size() const { return opt_.batch_size; }
  const Dataset& dataset() const { return ds_; }

 private:
  struct PermCache {  // the permutation of the epoch last used
    int64_t epoch = -1;
    uint64_t seed = 0;
    std::vector<int64_t> perm;
  };
  struct Slot {
    Batch batch;
    bool ready = false;
    std::exception_ptr error;
  };
  LoaderState normalized(LoaderState s) const;
  LoaderState advance(const LoaderState& s) const;   // position after the batch starting at s
  void fill(const LoaderState& s, Batch& out, PermCache& pc) const;  // reads only ds_, opt_, lut_
  void start_worker();
  void stop_worker();
  void worker_loop(LoaderState s);

  const Dataset& ds_;
  LoaderOptions opt_;
  LoaderState pos_;            // consumer's position
  float lut_[256];             // pixel_to_unit(v)

  // Synchronous mode
  Batch sync_batch_;
  PermCache sync_perm_;
  // Prefetch mode: batch k goes in slots_[k % 2]; the consumer holds one, the worker fills the other.
  Slot slots_[2];
  int64_t consumed_ = 0;       // batches handed to the consumer since the worker started
  int held_ = -1;              // slot the consumer holds, -1 none
  bool running_ = false, stop_ = false;
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace dcgan
