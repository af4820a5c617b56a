// Bad inputs through the CLI: image folders with unreadable files (skipped with a count and
// names; --strict fails on the first), corrupt or truncated checkpoints, data files and latents.
// Every case must end with a clear message naming the file and a non-zero exit, never a crash, and
// must not touch the files it could not read. docs/reliability.md quotes these messages.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "dcgan/io/image.hpp"
#include "dcgan/io/npy.hpp"
#include "io/safetensors.hpp"
#include "support/cli.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using testing::CmdResult;
using testing::run_dcgan;
using testing::slurp;
using testing::TempDir;

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void expect_error(const CmdResult& r, const std::vector<std::string>& parts) {
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("error: "), std::string::npos) << r.output;
  for (const std::string& p : parts) EXPECT_NE(r.output.find(p), std::string::npos) << "missing '" << p << "' in\n" << r.output;
  EXPECT_EQ(r.output.find("terminate"), std::string::npos) << r.output;
}

// 8x8 gray PNGs with a gradient, i = 0..n-1.
void write_good_images(const fs::path& dir, int n) {
  fs::create_directories(dir);
  for (int i = 0; i < n; ++i) {
    ImageU8 img{8, 8, 1, std::vector<uint8_t>(64)};
    for (int p = 0; p < 64; ++p) img.pixels[p] = static_cast<uint8_t>(p * 4 + i);
    write_png((dir / fmt::format("good_{:02}.png", i)).string(), img);
  }
}

const std::string kTrainSmall = "train --img-size 16 --batch-size 4 --steps 2 --threads 2 --sample-every 0 --quiet ";

TEST(BadInputs, ImageFolderSkipsUnreadableFilesAndNamesThem) {
  TempDir d("badimg");
  const fs::path data = d.path / "images";
  write_good_images(data, 12);
  const std::string png = slurp(data / "good_00.png");
  write_bytes(data / "a_truncated.png", png.substr(0, png.size() / 2));
  write_bytes(data / "b_empty.png", "");
  write_bytes(data / "c_notes.txt", "not an image\n");
  write_bytes(data / "d_zero_width.pgm", "P5 0 5 255\n");  // fuzzer find: stb accepted a 0-wide image
  // Fuzzer find: a JPEG whose Huffman table declares more than 256 codes (stb 2.27 overflows).
  const std::string jpeg = slurp(fs::path(DCGAN_SOURCE_DIR) / "fuzz/regressions/image/jpeg_dht_more_than_256_codes");
  ASSERT_GT(jpeg.size(), 1u);
  write_bytes(data / "e_bad_huffman.jpg", jpeg.substr(1));  // without the fuzz target's mode byte
  fs::create_directories(data / ".hidden");
  write_bytes(data / ".hidden" / "junk.png", "junk");  // ignored, not counted

  auto r = run_dcgan(kTrainSmall + "--data " + data.string() + " --out " + (d.path / "run").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(d.path / "run" / "checkpoints" / "latest.safetensors"));
  // The description names the count and every skipped file (up to ten, in path order).
  auto again = run_dcgan("train --img-size 16 --batch-size 4 --steps 1 --threads 2 --sample-every 0 --data " +
                         data.string() + " --out " + (d.path / "run2").string());
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("12 images"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("skipped 5 files that did not decode: a_truncated.png ("), std::string::npos)
      << again.output;
  EXPECT_NE(again.output.find("b_empty.png ("), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("c_notes.txt ("), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("d_zero_width.pgm ("), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("e_bad_huffman.jpg ("), std::string::npos) << again.output;
  EXPECT_EQ(again.output.find("more ("), std::string::npos) << "all five named, none left over\n" << again.output;

  // --strict: the first bad file (path order) is an error.
  auto strict = run_dcgan(kTrainSmall + "--strict --data " + data.string() + " --out " + (d.path / "run3").string());
  expect_error(strict, {"a_truncated.png", "HINT: remove or replace the file"});
  EXPECT_FALSE(fs::exists(d.path / "run3" / "checkpoints" / "latest.safetensors"));
}

TEST(BadInputs, ImageFolderWithOnlyBadFiles) {
  TempDir d("onlybad");
  fs::create_directories(d.path / "data");
  write_bytes(d.path / "data" / "x.png", "not a png");
  write_bytes(d.path / "data" / "y.jpg", "");
  auto r = run_dcgan(kTrainSmall + "--data " + (d.path / "data").string() + " --out " + (d.path / "run").string());
  expect_error(r, {"none of its 2 files decodes as an image (first: x.png"});
  fs::create_directories(d.path / "empty");
  expect_error(run_dcgan(kTrainSmall + "--data " + (d.path / "empty").string() + " --out " + (d.path / "run").string()),
               {"folder holds no files"});
}

TEST(BadInputs, ZeroWidthImageInAFolderIsSkippedNotACrash) {
  TempDir d("zerow");
  write_good_images(d.path / "data", 4);
  write_bytes(d.path / "data" / "zero.pgm", "P5 7 0 255\n");
  auto r = run_dcgan("train --img-size 16 --batch-size 4 --steps 1 --threads 2 --sample-every 0 --data " +
                     (d.path / "data").string() + " --out " + (d.path / "run").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("skipped 1 file that did not decode: zero.pgm"), std::string::npos) << r.output;
}

class BadCheckpoints : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("badckpt");
    auto r = run_dcgan("train --data fashion-mnist --batch-size 16 --steps 2 --threads 2 --sample-every 0 --quiet --out " +
                       (dir_->path / "run").string());
    ASSERT_EQ(r.code, 0) << r.output;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path latest() { return dir_->path / "run" / "checkpoints" / "latest.safetensors"; }
  static TempDir* dir_;
};
TempDir* BadCheckpoints::dir_ = nullptr;

TEST_F(BadCheckpoints, TruncatedCheckpoint) {
  TempDir d("trunc");
  const std::string full = slurp(latest());
  write_bytes(d.path / "cut.safetensors", full.substr(0, full.size() - 1000));
  const std::string cut = (d.path / "cut.safetensors").string();
  expect_error(run_dcgan("info " + cut), {cut, "corrupt or truncated safetensors file",
                                          "HINT: re-export the checkpoint or pick another file from checkpoints/"});
  expect_error(run_dcgan("sample --checkpoint " + cut + " -n 4 --grid " + (d.path / "g.png").string()),
               {cut, "corrupt or truncated"});
  EXPECT_FALSE(fs::exists(d.path / "g.png"));
  write_bytes(d.path / "head.safetensors", full.substr(0, 5));
  expect_error(run_dcgan("info " + (d.path / "head.safetensors").string()), {"fewer than the 8-byte header length field"});
}

TEST_F(BadCheckpoints, NotACheckpoint) {
  TempDir d("notckpt");
  write_bytes(d.path / "text.safetensors", "hello, this is not a checkpoint at all\n");
  expect_error(run_dcgan("info " + (d.path / "text.safetensors").string()), {"header length field claims"});
  expect_error(run_dcgan("info " + (d.path / "missing.safetensors").string()), {"file not found"});
  expect_error(run_dcgan("info " + d.str()), {"is a directory with no checkpoints/latest.safetensors"});
  // Valid safetensors but no model config: sample refuses with the key it needs.
  SafeTensors st;
  st.put("x", Tensor({2}, 1.f));
  write_safetensors_atomic((d.path / "plain.safetensors").string(), st);
  expect_error(run_dcgan("sample --checkpoint " + (d.path / "plain.safetensors").string() + " -n 2 --grid " +
                         (d.path / "g.png").string()),
               {"lacks the key 'arch'"});
}

// No checkpoint of the run loads (latest and its step file cut short, through the hard link):
// --resume refuses, names every file it tried, and touches none of them. (One good step
// checkpoint would be resumed instead: CliTrain.ResumeFallsBackToTheNewestGoodCheckpoint.)
TEST_F(BadCheckpoints, CorruptLatestOnResume) {
  TempDir d("resume-corrupt");
  fs::copy(dir_->path / "run", d.path / "run", fs::copy_options::recursive);
  const fs::path cdir = d.path / "run" / "checkpoints";
  const fs::path l = cdir / "latest.safetensors";
  std::vector<fs::path> steps;
  for (auto& e : fs::directory_iterator(cdir))
    if (e.path().filename().string().rfind("step_", 0) == 0) steps.push_back(e.path());
  ASSERT_FALSE(steps.empty());
  const std::string full = slurp(l);
  for (const fs::path& p : steps) {
    fs::remove(p);
    write_bytes(p, full.substr(0, full.size() / 2));
  }
  fs::remove(l);
  write_bytes(l, full.substr(0, full.size() / 3));
  std::vector<std::string> want{l.string(), "no checkpoint in", "can be resumed", "corrupt or truncated",
                                "start a new run with another --out"};
  for (const fs::path& p : steps) want.push_back(p.string());
  expect_error(run_dcgan("train --resume " + (d.path / "run").string() + " --steps 4"), want);
  EXPECT_EQ(fs::file_size(l), full.size() / 3);
  for (const fs::path& p : steps) EXPECT_EQ(fs::file_size(p), full.size() / 2) << p;
  expect_error(run_dcgan("train --resume " + (d.path / "nowhere").string() + " --steps 4"),
               {"no checkpoint to resume from"});
}

TEST_F(BadCheckpoints, BadLatents) {
  TempDir d("latents");
  write_npy((d.path / "z.npy").string(), Tensor({3, 7}));
  expect_error(run_dcgan("sample --checkpoint " + latest().string() + " --latents " + (d.path / "z.npy").string() +
                         " --grid " + (d.path / "g.png").string()),
               {"latents have shape (3, 7)", "expects (N, 100)"});
  write_bytes(d.path / "t.npy", "\x93NUMPY garbage");
  expect_error(run_dcgan("sample --checkpoint " + latest().string() + " --latents " + (d.path / "t.npy").string() +
                         " --grid " + (d.path / "g.png").string()),
               {"t.npy"});
  EXPECT_FALSE(fs::exists(d.path / "g.png"));
}

TEST(BadInputs, CorruptDataFiles) {
  TempDir d("baddata");
  const std::string out = " --out " + (d.path / "run").string();
  // A truncated gzip IDX file.
  const std::string gz = slurp("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
  if (!gz.empty()) {
    write_bytes(d.path / "cut-images-idx3-ubyte.gz", gz.substr(0, 20000));
    expect_error(run_dcgan(kTrainSmall + "--data " + (d.path / "cut-images-idx3-ubyte.gz").string() + out),
                 {"cut-images-idx3-ubyte.gz", "truncated: header claims 10000 images of 28x28"});
  }
  // NaN and out-of-range floats in a .npy.
  Tensor x({8, 1, 8, 8}, 0.5f);
  x[3] = NAN;
  write_npy((d.path / "nan.npy").string(), x);
  expect_error(run_dcgan(kTrainSmall + "--data " + (d.path / "nan.npy").string() + out), {"nan.npy", "NaN"});
  x[3] = 7.f;
  write_npy((d.path / "range.npy").string(), x);
  expect_error(run_dcgan(kTrainSmall + "--data " + (d.path / "range.npy").string() + out),
               {"range.npy", "expected [0, 1] or [-1, 1]"});
  // A .bin that is not a whole number of CIFAR-10 records.
  write_bytes(d.path / "x.bin", std::string(5000, '\1'));
  expect_error(run_dcgan(kTrainSmall + "--data " + (d.path / "x.bin").string() + out),
               {"x.bin", "not a whole number of CIFAR-10 records"});
  // Unknown content.
  write_bytes(d.path / "what.dat", "hello");
  expect_error(run_dcgan(kTrainSmall + "--data " + (d.path / "what.dat").string() + out), {"unrecognised data format"});
  EXPECT_FALSE(fs::exists(d.path / "run" / "checkpoints" / "latest.safetensors"));
}

}  // namespace
}  // namespace dcgan
