// Disk faults while `dcgan train` writes checkpoints: a file-size limit (EFBIG), a genuinely full
// filesystem (ENOSPC on a small tmpfs), a directory that stops accepting files mid-run, and output
// paths that cannot be created at all. Each must give a clear message and a non-zero exit, keep
// the previous latest.safetensors intact and loadable, and leave no partial files behind; the run
// then resumes once the fault is gone.
//
// The tests run as root in CI, where chmod does not stop writes. What is used instead:
//   - EFBIG: setrlimit(RLIMIT_FSIZE) in the child with SIGXFSZ ignored, so write() fails with EFBIG.
//   - ENOSPC: a private mount namespace (unshare(CLONE_NEWNS)) with a tmpfs sized to leave less
//     room than one checkpoint; skipped where mounting is not allowed.
//   - read-only: the immutable attribute (FS_IOC_SETFLAGS, FS_IMMUTABLE_FL, as chattr +i), which
//     stops root too; chmod 0555 when not root; skipped where neither works.
//   - impossible paths: --out under /proc, and under a regular file (ENOTDIR).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statvfs.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "io/safetensors.hpp"
#include "support/cli.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using testing::Process;
using testing::run_dcgan;
using testing::TempDir;
using testing::wait_until;

const std::string kTrain =
    "train --data fashion-mnist --batch-size 16 --seed 9 --deterministic --threads 2 --checkpoint-every 3 "
    "--log-every 1 --sample-every 0 ";

int64_t step_of(const fs::path& ckpt) { return std::stoll(read_safetensors(ckpt.string()).meta("step")); }

// Names of leftover temp files under `dir`.
std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) out.push_back(e.path().string());
  return out;
}

// After a failed checkpoint write: previous latest (step 3) intact, nothing half-written.
void expect_previous_checkpoint_intact(const fs::path& run) {
  const fs::path latest = run / "checkpoints" / "latest.safetensors";
  EXPECT_EQ(step_of(latest), 3);
  EXPECT_EQ(run_dcgan("info " + latest.string()).code, 0);
  EXPECT_FALSE(fs::exists(run / "checkpoints" / "step_0000006.safetensors"));
  EXPECT_TRUE(temp_files(run).empty()) << temp_files(run).front();
}

class DiskFaults : public ::testing::Test {
 protected:
  // One good 3-step run, copied by each test.
  static void SetUpTestSuite() {
    base_ = new TempDir("disk-faults-base");
    auto r = run_dcgan(kTrain + "--steps 3 --out " + (base_->path / "run").string());
    ASSERT_EQ(r.code, 0) << r.output;
  }
  static void TearDownTestSuite() {
    delete base_;
    base_ = nullptr;
  }
  static fs::path copy_run(const fs::path& dst) {
    fs::copy(base_->path / "run", dst, fs::copy_options::recursive);
    return dst;
  }
  static TempDir* base_;
};
TempDir* DiskFaults::base_ = nullptr;

TEST_F(DiskFaults, FileSizeLimitDuringCheckpointWrite) {
  TempDir d("efbig");
  const fs::path run = copy_run(d.path / "run");
  // 1 MiB: config.json and metrics.jsonl fit, a 4.8 MB checkpoint does not.
  Process p(fmt::format("train --resume {} --steps 6", run.string()), d / "log", [] {
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl{1 << 20, 1 << 20};
    ::setrlimit(RLIMIT_FSIZE, &rl);
  });
  const int code = p.wait();
  const std::string out = p.output();
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("step_0000006.safetensors: write failed after"), std::string::npos) << out;
  EXPECT_NE(out.find("File too large"), std::string::npos) << out;
  EXPECT_NE(out.find("HINT: check that the output directory exists, is writable and has free space"),
            std::string::npos) << out;
  expect_previous_checkpoint_intact(run);
  // The fault gone, the run continues and ends where it should.
  auto again = run_dcgan(fmt::format("train --resume {} --steps 6", run.string()));
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_EQ(step_of(run / "checkpoints" / "latest.safetensors"), 6);
}

TEST_F(DiskFaults, FullFilesystemDuringCheckpointWrite) {
  TempDir d("enospc");
  const fs::path mnt = d.path / "mnt", after = d.path / "after";
  fs::create_directories(mnt);
  const std::string log = d / "log";
  // In a child with its own mount namespace: tmpfs at mnt, the run copied in, the tmpfs shrunk to
  // leave ~2 MB free, dcgan resumed there, the result copied back out for the checks below.
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64m") != 0)
      ::_exit(77);
    std::error_code ec;
    fs::copy(base_->path / "run", mnt / "run", fs::copy_options::recursive, ec);
    struct statvfs sv{};
    if (ec || ::statvfs(mnt.c_str(), &sv) != 0) ::_exit(78);
    const uint64_t used = uint64_t(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
    const std::string opts = fmt::format("size={}", used + (2u << 20));
    if (::mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT, opts.c_str()) != 0) ::_exit(79);
    int code;
    {
      Process p(fmt::format("train --resume {} --steps 6", (mnt / "run").string()), log);
      code = p.wait();
    }
    fs::copy(mnt / "run", after, fs::copy_options::recursive, ec);
    ::_exit(ec ? 80 : code);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  const int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  if (code == 77) GTEST_SKIP() << "cannot mount a tmpfs in a private mount namespace here (needs CAP_SYS_ADMIN); "
                                 "a failed checkpoint write is also tested by FileSizeLimitDuringCheckpointWrite "
                                 "(docs/reliability.md)";
  std::ifstream lf(log);
  const std::string out((std::istreambuf_iterator<char>(lf)), std::istreambuf_iterator<char>());
  ASSERT_LT(code, 77) << "test set-up failed with " << code << "\n" << out;
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("step_0000006.safetensors: write failed after"), std::string::npos) << out;
  EXPECT_NE(out.find("No space left on device"), std::string::npos) << out;
  EXPECT_NE(out.find("HINT: check that the output directory exists, is writable and has free space"),
            std::string::npos) << out;
  expect_previous_checkpoint_intact(after);
}

// Sets or clears the immutable attribute of a directory; false when the filesystem refuses.
bool set_immutable(const fs::path& dir, bool on) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return false;
  int flags = 0;
  bool ok = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (ok) {
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    ok = ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  }
  ::close(fd);
  return ok;
}

TEST_F(DiskFaults, DirectoryBecomesReadOnlyMidRun) {
  TempDir d("readonly");
  const fs::path run = d.path / "run", ckdir = run / "checkpoints";
  Process p(kTrain + "--steps 100000 --out " + run.string(), d / "log");
  ASSERT_TRUE(wait_until([&] { return fs::exists(ckdir / "latest.safetensors") || !p.running(); }, 300)) << p.output();
  ASSERT_TRUE(p.running()) << p.output();
  // Read-only from now on. As root only the immutable attribute stops writes.
  const bool root = ::geteuid() == 0;
  bool locked = root ? set_immutable(ckdir, true) : (fs::permissions(ckdir, fs::perms(0555)), true);
  struct Unlock {
    fs::path dir;
    bool root, locked;
    ~Unlock() {
      if (!locked) return;
      if (root) set_immutable(dir, false);
      else fs::permissions(dir, fs::perms(0755));
    }
  } unlock{ckdir, root, locked};
  if (!locked) GTEST_SKIP() << "this filesystem has no immutable attribute, and as root chmod does not stop writes; "
                                "a read-only directory is also tested by IoTest.AtomicWriteIntoReadonlyDirectoryKeepsOldFile "
                                "(docs/reliability.md)";
  ASSERT_TRUE(wait_until([&] { return !p.running(); }, 300)) << "still running with a read-only directory";
  const std::string out = p.output();
  EXPECT_EQ(p.wait(), 1) << out;
  // Usually the temp file cannot be created; if the lock fell in the middle of a checkpoint, the
  // rename of the temp file or the update of latest fails instead.
  const bool create_failed = out.find("cannot create temporary file") != std::string::npos;
  const bool rename_failed = out.find("cannot move temporary file") != std::string::npos;
  const bool link_failed = out.find("latest.safetensors: cannot update") != std::string::npos;
  EXPECT_TRUE(create_failed || rename_failed || link_failed) << out;
  EXPECT_NE(out.find(root ? "Operation not permitted" : "Permission denied"), std::string::npos) << out;
  EXPECT_NE(out.find("HINT: "), std::string::npos) << out;
  const fs::path latest = ckdir / "latest.safetensors";
  EXPECT_GE(step_of(latest), 3);
  EXPECT_EQ(run_dcgan("info " + latest.string()).code, 0);
}

TEST_F(DiskFaults, OutputDirectoryThatCannotBeCreated) {
  TempDir d("badout");
  std::ofstream(d / "file") << "x";
  for (const std::string out : {std::string("/proc/dcgan-test-out/run"), d / "file/run"}) {
    auto r = run_dcgan(kTrain + "--steps 3 --out " + out);
    EXPECT_EQ(r.code, 1) << r.output;
    // The message names the directory and gives the system's reason.
    EXPECT_NE(r.output.find(out + ": cannot create the output directory: "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("HINT: choose a writable --out directory"), std::string::npos) << r.output;
  }
}

TEST_F(DiskFaults, SampleToAnUnwritablePath) {
  const std::string ckpt = (base_->path / "run" / "checkpoints" / "latest.safetensors").string();
  for (const std::string out : {std::string("/proc/dcgan-test.png"), std::string("/nonexistent-dir/grid.png")}) {
    auto r = run_dcgan("sample --checkpoint " + ckpt + " -n 4 --grid " + out);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find(out + ": cannot create temporary file"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("HINT: "), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace dcgan
