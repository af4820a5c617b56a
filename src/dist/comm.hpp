// Communication between the processes (ranks) of one data-parallel training job.
//
// `dcgan train` under an MPI launcher (mpirun, srun) runs as N ranks that train one model: each
// takes its slice of every global batch, and the gradients are summed across ranks before the
// optimizer step (docs/distributed.md). Everything that crosses processes goes through Comm, so
// the training code never names MPI: a plain `dcgan train` gets the one-rank Comm, which does
// nothing and never initialises MPI (no launcher, no MPI runtime is started).
//
// Collectives must be called by every rank in the same order (as MPI requires). Only the thread
// that created the Comm calls it (MPI_THREAD_FUNNELED): the OpenMP workers and the data loader's
// thread never do.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dcgan/error.hpp"

namespace dcgan::dist {

// A pending non-blocking all-reduce (Comm::iallreduce_sum); Comm::wait_all completes them all.
using Request = int;

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual const std::string& host() const = 0;  // this rank's host name
  bool root() const { return rank() == 0; }
  // "rank 1 on node7", for messages.
  std::string where() const;
  std::string where(int rank) const;

  // In-place sums (or maxima) over all ranks; every rank gets the same result.
  virtual void allreduce_sum(float* data, int64_t n) = 0;
  virtual void allreduce_sum(double* data, int64_t n) = 0;
  virtual void allreduce_max(double* data, int64_t n) = 0;
  // Non-blocking in-place sum: `data` must stay untouched until wait_all() returns.
  virtual Request iallreduce_sum(float* data, int64_t n) = 0;
  // Lets pending non-blocking operations progress (MPI progresses them only inside MPI calls).
  virtual void progress() = 0;
  virtual void wait_all() = 0;
  // Every rank's string, in rank order.
  virtual std::vector<std::string> allgather(const std::string& s) = 0;
  // Ends every rank of the job at once (after this rank printed why); for errors that only
  // this rank saw, where the others would wait forever in the next collective.
  [[noreturn]] virtual void abort(int code) = 0;
  // The host names of all ranks, in rank order: gathered once when the Comm is made (every rank
  // there), so that naming a rank in an error, which may happen on one rank alone, is never a
  // collective the others are not in.
  const std::vector<std::string>& hosts() const { return hosts_; }

 protected:
  std::vector<std::string> hosts_;
};

// The job's communicator: MPI's world when this process was started by an MPI launcher (one of
// OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_RANK, PMI_SIZE is set), else the one-rank Comm. MPI is
// initialised on the first call and finalised at exit.
Comm& world();
// Whether an MPI launcher started this process (without initialising anything).
bool launched_by_mpi();

// An error every rank knows about, because the ranks agreed on it (run_agreed): each rank can
// exit cleanly with it, and rank 0 alone reports it.
class AgreedError : public Error {
 public:
  using Error::Error;
};

// Runs `fn` on every rank, then the ranks compare notes: if it threw on any rank, every rank
// throws one AgreedError that names the failing ranks and hosts and carries the first failure's
// message and hint. With one rank, fn's own exception propagates unchanged.
void run_agreed(Comm& comm, const std::function<void()>& fn);

}  // namespace dcgan::dist
