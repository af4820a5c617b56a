// Every rank of a data-parallel run must hold the same networks, bit for bit: they start from the
// same seed (or checkpoint) and apply the same averaged gradients. check_replicas proves it where
// it matters, before a checkpoint is written, instead of trusting it: a rank whose memory or
// arithmetic went wrong would otherwise go unnoticed in the checkpoint rank 0 writes.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "dist/comm.hpp"
#include "nn/sequential.hpp"

namespace dcgan::dist {

// FNV-1a (64 bit) over the 32-bit words of every entry of each network's state() in order
// (parameters, BatchNorm buffers as float bits; num_batches_tracked as two words, low first).
// A null network (e.g. no moving average of G) adds nothing.
uint64_t state_hash(std::initializer_list<Sequential*> nets);

// Gathers every rank's hash; throws AgreedError on every rank when they differ. Returns them in
// rank order (one entry with one rank).
std::vector<uint64_t> check_replicas(Comm& comm, uint64_t hash, int64_t step);

}  // namespace dcgan::dist
