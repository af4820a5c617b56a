// `dcgan serve` in a real browser: headless Chromium, driven by playwright-core, loads the page of
// a running server and uses it as a person would (tests/browser/serve_explorer.mjs: the grid
// decodes, a click shows the large view, interpolation, arithmetic and a latent slider change
// their images, a refused request shows its message). The screenshot it takes is kept as
// build/test-output/serve_explorer.png.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "support/require.hpp"
#include "support/serve.hpp"

namespace fs = std::filesystem;

namespace dcgan {
namespace {

using testing::ServeProcess;
using testing::TempDir;

const std::string kChromium = "/usr/bin/chromium-headless-shell";
const std::string kNodeModules = std::string(DCGAN_SOURCE_DIR) + "/.deps/node_modules";

bool have_node() { return std::system("node --version > /dev/null 2>&1") == 0; }

// Runs a shell command, returning its exit code and output (stdout and stderr).
testing::CmdResult run_shell(const std::string& cmd) {
  testing::CmdResult r;
  std::FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  const int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

TEST(ServeBrowser, ExplorerWorksInHeadlessChromium) {
  DCGAN_REQUIRE_OR_SKIP(have_node(), "node", "apt install nodejs");
  DCGAN_REQUIRE_OR_SKIP(fs::exists(kNodeModules + "/playwright-core"), "the npm package playwright-core in .deps/",
                        "scripts/setup.sh installs it");
  DCGAN_REQUIRE_OR_SKIP(fs::exists(kChromium), kChromium, "apt install chromium-headless-shell");

  TempDir d("serve-browser");
  ServeProcess server(testing::tiny_checkpoint(d), d / "serve.log");
  ASSERT_GT(server.port(), 0) << server.process().output();

  const fs::path shot = fs::path(DCGAN_BINARY_DIR) / "test-output" / "serve_explorer.png";
  fs::create_directories(shot.parent_path());
  fs::remove(shot);
  // `timeout`: a page that never shows what the script waits for fails the test, it does not hang it.
  const auto r = run_shell(fmt::format("timeout 300 node {}/tests/browser/serve_explorer.mjs {} {} {} {}",
                                       DCGAN_SOURCE_DIR, server.url(), shot.string(), kNodeModules, kChromium));
  EXPECT_EQ(r.code, 0) << r.output << "\nserver log:\n" << server.process().output();
  std::ifstream f(shot, std::ios::binary);
  char sig[8] = {};
  f.read(sig, 8);
  EXPECT_EQ(std::string(sig + 1, 3), "PNG") << "a screenshot at " << shot;

  // The server outlives the browser session and stops cleanly.
  ASSERT_TRUE(server.process().running()) << server.process().output();
  server.process().signal(SIGINT);
  EXPECT_EQ(server.process().wait(), 130) << server.process().output();
}

}  // namespace
}  // namespace dcgan
