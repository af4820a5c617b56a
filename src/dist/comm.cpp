// The one-rank Comm and MPI's. MPI is named only in this file.
#include "dist/comm.hpp"

#include <mpi.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace dcgan::dist {

std::string Comm::where() const { return where(rank()); }

std::string Comm::where(int r) const {
  return fmt::format("rank {} on {}", r, r >= 0 && r < int(hosts_.size()) ? hosts_[size_t(r)] : std::string("?"));
}

namespace {

std::string this_host() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown-host";
  return name;
}

class LocalComm final : public Comm {
 public:
  LocalComm() { hosts_ = {host_}; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  const std::string& host() const override { return host_; }
  void allreduce_sum(float*, int64_t) override {}
  void allreduce_sum(double*, int64_t) override {}
  void allreduce_max(double*, int64_t) override {}
  Request iallreduce_sum(float*, int64_t) override { return 0; }
  void progress() override {}
  void wait_all() override {}
  std::vector<std::string> allgather(const std::string& s) override { return {s}; }
  [[noreturn]] void abort(int code) override { std::exit(code); }

 private:
  std::string host_ = this_host();
};

// MPI counts are int: large buffers go in pieces.
constexpr int64_t kMaxCount = std::numeric_limits<int>::max() / 2;

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw Error(fmt::format("[dist] {} failed: {}", what, msg));
}

void finalize_at_exit() {
  int fin = 0;
  MPI_Finalized(&fin);
  if (!fin) MPI_Finalize();
}

class MpiComm final : public Comm {
 public:
  MpiComm() {
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      throw Error("[dist] MPI_Init_thread failed: this process was started by an MPI launcher, but MPI "
                  "could not start", "run 'dcgan train' without mpirun, or check the MPI installation");
    std::atexit(finalize_at_exit);
    // Errors come back as codes (check() turns them into exceptions) instead of MPI's default
    // of aborting the job without saying where.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    hosts_ = allgather(host_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const std::string& host() const override { return host_; }

  void allreduce_sum(float* data, int64_t n) override { reduce(data, n, MPI_FLOAT, MPI_SUM); }
  void allreduce_sum(double* data, int64_t n) override { reduce(data, n, MPI_DOUBLE, MPI_SUM); }
  void allreduce_max(double* data, int64_t n) override { reduce(data, n, MPI_DOUBLE, MPI_MAX); }

  Request iallreduce_sum(float* data, int64_t n) override {
    for (int64_t off = 0; off < n; off += kMaxCount) {
      pending_.emplace_back();
      check(MPI_Iallreduce(MPI_IN_PLACE, data + off, int(std::min(kMaxCount, n - off)), MPI_FLOAT, MPI_SUM,
                           MPI_COMM_WORLD, &pending_.back()),
            "MPI_Iallreduce");
    }
    return Request(pending_.size());
  }
  void progress() override {
    if (pending_.empty()) return;
    int done = 0;
    check(MPI_Testall(int(pending_.size()), pending_.data(), &done, MPI_STATUSES_IGNORE), "MPI_Testall");
  }
  void wait_all() override {
    if (pending_.empty()) return;
    check(MPI_Waitall(int(pending_.size()), pending_.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
    pending_.clear();
  }
  std::vector<std::string> allgather(const std::string& s) override {
    int len = int(s.size());
    std::vector<int> lens(static_cast<size_t>(size_)), offs(static_cast<size_t>(size_));
    check(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
    int total = 0;
    for (int r = 0; r < size_; ++r) offs[size_t(r)] = total, total += lens[size_t(r)];
    std::string all(size_t(total), '\0');
    check(MPI_Allgatherv(s.data(), len, MPI_CHAR, all.data(), lens.data(), offs.data(), MPI_CHAR, MPI_COMM_WORLD),
          "MPI_Allgatherv");
    std::vector<std::string> out;
    for (int r = 0; r < size_; ++r) out.push_back(all.substr(size_t(offs[size_t(r)]), size_t(lens[size_t(r)])));
    return out;
  }
  [[noreturn]] void abort(int code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; in case it does
  }

 private:
  void reduce(void* data, int64_t n, MPI_Datatype type, MPI_Op op) {
    const size_t elem = type == MPI_FLOAT ? sizeof(float) : sizeof(double);
    for (int64_t off = 0; off < n; off += kMaxCount)
      check(MPI_Allreduce(MPI_IN_PLACE, static_cast<char*>(data) + size_t(off) * elem,
                          int(std::min(kMaxCount, n - off)), type, op, MPI_COMM_WORLD),
            "MPI_Allreduce");
  }
  int rank_ = 0, size_ = 1;
  std::string host_ = this_host();
  std::vector<MPI_Request> pending_;
};

}  // namespace

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (const char* s = std::getenv(v); s && *s) return true;
  return false;
}

Comm& world() {
  static std::unique_ptr<Comm> comm = launched_by_mpi() ? std::unique_ptr<Comm>(std::make_unique<MpiComm>())
                                                        : std::unique_ptr<Comm>(std::make_unique<LocalComm>());
  return *comm;
}

void run_agreed(Comm& comm, const std::function<void()>& fn) {
  if (comm.size() == 1) return fn();
  nlohmann::json mine = nullptr;
  try {
    fn();
  } catch (const Error& e) {
    mine = {{"what", e.what()}, {"hint", e.hint()}};
  } catch (const std::exception& e) {
    mine = {{"what", e.what()}, {"hint", ""}};
  }
  const std::vector<std::string> all = comm.allgather(mine.dump());
  std::vector<int> failed;
  nlohmann::json first;
  for (size_t r = 0; r < all.size(); ++r) {
    nlohmann::json j = nlohmann::json::parse(all[r]);
    if (j.is_null()) continue;
    if (failed.empty()) first = j;
    failed.push_back(int(r));
  }
  if (failed.empty()) return;
  std::vector<std::string> names;
  for (int r : failed) names.push_back(comm.where(r));
  const std::string msg = first["what"].get<std::string>();
  throw AgreedError(failed.size() == all.size() ? msg
                                                : fmt::format("{} (on {}; the other ranks were fine)", msg,
                                                              fmt::join(names, ", ")),
                    first["hint"].get<std::string>());
}

}  // namespace dcgan::dist
