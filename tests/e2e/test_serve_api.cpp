// `dcgan serve`'s HTTP API against a running server: images equal what `dcgan sample` and
// `dcgan interpolate` write for the same seeds; bad requests of every kind get a 4xx with a
// message naming the problem; concurrent requests (good and bad mixed) all get their own correct
// answer; and afterwards the server still answers and stops on Ctrl-C with 130.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "support/serve.hpp"

namespace dcgan {
namespace {

using testing::run_dcgan;
using testing::slurp;
using testing::ServeProcess;
using testing::TempDir;

// Sends raw bytes and returns the reply: until its Content-Length is complete, the server closes
// the connection, or 10 s pass.
std::string raw_request(int port, const std::string& bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) {
      out.append(buf, size_t(n));
      const size_t end = out.find("\r\n\r\n"), cl = out.find("Content-Length: ");
      if (end != std::string::npos && cl != std::string::npos && cl < end &&
          out.size() >= end + 4 + std::stoul(out.substr(cl + 16)))
        break;
    }
  }
  ::close(fd);
  return out;
}

class ServeApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The client writes request bodies the server refuses to read: EPIPE, not death by SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    dir_ = new TempDir("serve-api");
    ckpt_ = testing::tiny_checkpoint(*dir_);
    server_ = new ServeProcess(ckpt_, *dir_ / "serve.log");
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }
  void SetUp() override { ASSERT_GT(server_->port(), 0) << server_->process().output(); }
  static httplib::Client client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(60);
    return c;
  }
  static TempDir* dir_;
  static std::string ckpt_;
  static ServeProcess* server_;
};
TempDir* ServeApi::dir_ = nullptr;
std::string ServeApi::ckpt_;
ServeProcess* ServeApi::server_ = nullptr;

TEST_F(ServeApi, InfoDescribesTheModelWithoutPaths) {
  auto r = client().Get("/api/info");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["model"]["img_size"], 16);
  EXPECT_EQ(j["model"]["channels"], 1);
  EXPECT_EQ(j["model"]["latent_dim"], 8);
  EXPECT_EQ(r->body.find(dir_->str()), std::string::npos) << "no directory in /api/info: " << r->body;
}

TEST_F(ServeApi, PageIsSelfContained) {
  auto r = client().Get("/");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("<script>"), std::string::npos);
  EXPECT_EQ(r->body.find("http://"), std::string::npos) << "the page loads nothing from elsewhere";
  EXPECT_EQ(r->body.find("https://"), std::string::npos) << "the page loads nothing from elsewhere";
  EXPECT_NE(r->get_header_value("Content-Security-Policy").find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
}

TEST_F(ServeApi, ImagesEqualTheClisForTheSameSeeds) {
  auto c = client();
  // /api/sample?seed=S is `dcgan sample -n 1 --seed S`; /api/interpolate is `dcgan interpolate`'s grid.
  for (int seed : {0, 7, 123456}) {
    ASSERT_EQ(run_dcgan(fmt::format("sample --checkpoint {} -n 1 --seed {} --out-dir {}", ckpt_, seed,
                                    *dir_ / fmt::format("s{}", seed))).code, 0);
    auto r = c.Get(fmt::format("/api/sample?seed={}", seed));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "image/png");
    EXPECT_EQ(r->body, slurp(*dir_ / fmt::format("s{}/000000.png", seed))) << "seed " << seed;
  }
  for (const char* method : {"slerp", "linear"}) {
    ASSERT_EQ(run_dcgan(fmt::format("interpolate --checkpoint {} --seeds 3,9 --steps 5 --method {} --grid {}", ckpt_,
                                    method, *dir_ / "interp.png")).code, 0);
    auto r = c.Get(fmt::format("/api/interpolate?a=3&b=9&steps=5&method={}", method));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->body, slurp(*dir_ / "interp.png")) << method;
  }
  // Arithmetic with b = c is a itself; a sweep's images differ from each other's ends.
  auto a = c.Get("/api/arith?a=5&b=2&c=2"), s = c.Get("/api/sample?seed=5");
  ASSERT_TRUE(a && s);
  EXPECT_EQ(a->body, s->body);
  auto other = c.Get("/api/arith?a=5&b=2&c=3");
  ASSERT_TRUE(other);
  EXPECT_NE(other->body, s->body);
  // A zero shift leaves the image as it is; a large one changes it.
  auto z0 = c.Get("/api/sample?seed=5&shift=0:0"), z1 = c.Get("/api/sample?seed=5&shift=0:4,1:-4");
  ASSERT_TRUE(z0 && z1);
  EXPECT_EQ(z0->body, s->body);
  EXPECT_NE(z1->body, s->body);
}

struct Bad {
  std::string target;
  int status;
  std::string says;  // a part of the message
};

TEST_F(ServeApi, BadRequestsGetA4xxWithAMessage) {
  const std::string many_seeds = [] {
    std::string s = "0";
    for (int i = 1; i <= 64; ++i) s += fmt::format(",{}", i);
    return s;
  }();
  const std::vector<Bad> bad = {
      {"/nope", 404, "no such page"},
      {"/api/", 404, "no such page"},
      {"/api/sample", 400, "missing parameter 'seed'"},
      {"/api/sample?seed=", 400, "bad parameter seed"},
      {"/api/sample?seed=abc", 400, "bad parameter seed"},
      {"/api/sample?seed=-1", 400, "bad parameter seed"},
      {"/api/sample?seed=1.5", 400, "bad parameter seed"},
      {"/api/sample?seed=%201", 400, "bad parameter seed"},
      {"/api/sample?seed=99999999999999999999999", 400, "bad parameter seed"},
      {"/api/sample?seed=9007199254740992", 400, "bad parameter seed"},
      {"/api/sample?seed=1&seed=2", 400, "more than once"},
      {"/api/sample?seed=1&checkpoint=/etc/passwd", 400, "unknown parameter 'checkpoint'"},
      {"/api/sample?seed=../../etc/passwd", 400, "bad parameter seed"},
      {"/api/sample?seed=%2Fetc%2Fpasswd", 400, "bad parameter seed"},
      {"/api/sample?seed=1&shift=0", 400, "bad parameter shift"},
      {"/api/sample?seed=1&shift=8:1", 400, "bad parameter shift: bad parameter dim=8"},
      {"/api/sample?seed=1&shift=0:nan", 400, "bad parameter shift"},
      {"/api/sample?seed=1&shift=0:11", 400, "bad parameter shift"},
      {"/api/sample?seed=1&shift=0:1,1:1,2:1,3:1,4:1,5:1,6:1,7:1,0:1", 413, "more than 8"},
      {"/api/grid", 400, "missing parameter 'seeds'"},
      {"/api/grid?seeds=1,,2", 400, "is not a seed"},
      {"/api/grid?seeds=1,2,", 400, "is not a seed"},
      {"/api/grid?seeds=" + many_seeds, 413, "more than 64 seeds"},
      {"/api/grid?seeds=1,2&nrow=0", 400, "bad parameter nrow"},
      {"/api/grid?seeds=1,2&nrow=-3", 400, "bad parameter nrow"},
      {"/api/interpolate?a=1", 400, "missing parameter 'b'"},
      {"/api/interpolate?a=1&b=2&steps=100000", 400, "bad parameter steps"},
      {"/api/interpolate?a=1&b=2&steps=-8", 400, "bad parameter steps"},
      {"/api/interpolate?a=1&b=2&steps=1", 400, "bad parameter steps"},
      {"/api/interpolate?a=1&b=2&steps=1e3", 400, "bad parameter steps"},
      {"/api/interpolate?a=1&b=2&method=cubic", 400, "bad parameter method"},
      {"/api/arith?a=1&b=2", 400, "missing parameter 'c'"},
      {"/api/sweep?seed=1", 400, "missing parameter 'dim'"},
      {"/api/sweep?seed=1&dim=-1", 400, "bad parameter dim"},
      {"/api/sweep?seed=1&dim=8", 400, "bad parameter dim"},
      {"/api/sweep?seed=1&dim=0&from=inf", 400, "bad parameter from"},
      {"/api/sweep?seed=1&dim=0&to=1e308", 400, "bad parameter to"},
      {"/api/sweep?seed=1&dim=0&to=0x10", 400, "bad parameter to"},
      {"/api/info?x=1", 400, "unknown parameter 'x'"},
      {"/api/sample?seed=1&pad=" + std::string(3000, 'a'), 414, "refused"},
      {"/api/sample?seed=1&pad=" + std::string(20000, 'a'), 414, "refused"},
  };
  auto c = client();
  for (const Bad& b : bad) {
    auto r = c.Get(b.target);
    ASSERT_TRUE(r) << b.target.substr(0, 80) << ": no answer";
    EXPECT_EQ(r->status, b.status) << b.target.substr(0, 80) << ": " << r->body;
    EXPECT_NE(r->body.find(b.says), std::string::npos) << b.target.substr(0, 80) << " answered: " << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; charset=utf-8") << b.target.substr(0, 80);
  }
  // Other methods, bodies, hosts.
  auto post = c.Post("/api/sample?seed=1", std::string(100, 'x'), "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_NE(post->body.find("only answers GET"), std::string::npos) << post->body;
  auto big = c.Post("/api/sample?seed=1", std::string(1 << 20, 'x'), "application/octet-stream");
  if (big) EXPECT_GE(big->status, 400) << "a 1 MiB body";  // or the server closed the connection
  for (const char* m : {"PUT", "DELETE", "PATCH"}) {
    const std::string resp = raw_request(server_->port(), fmt::format("{} /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                                                        "Connection: close\r\n\r\n", m));
    EXPECT_EQ(resp.rfind("HTTP/1.1 405", 0), 0u) << m << ": " << resp.substr(0, 200);
  }
  const std::string with_body = raw_request(
      server_->port(), "GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789");
  EXPECT_EQ(with_body.rfind("HTTP/1.1 413", 0), 0u) << with_body.substr(0, 200);
  const std::string huge_body = raw_request(
      server_->port(), "GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\nxx");
  EXPECT_EQ(huge_body.rfind("HTTP/1.1 413", 0), 0u) << huge_body.substr(0, 200);
  const std::string garbage = raw_request(server_->port(), "\x01\x02 nonsense\r\n\r\n");
  EXPECT_EQ(garbage.rfind("HTTP/1.1 400", 0), 0u) << garbage.substr(0, 200);
  const std::string dotdot = raw_request(server_->port(), "GET /../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(dotdot.rfind("HTTP/1.1 400", 0) == 0 || dotdot.rfind("HTTP/1.1 404", 0) == 0) << dotdot.substr(0, 200);
  EXPECT_EQ(dotdot.find("root:"), std::string::npos);
  // DNS rebinding: a page of another site that resolves to 127.0.0.1 sends its own Host.
  auto rebind = c.Get("/api/info", {{"Host", "attacker.example:8080"}});
  ASSERT_TRUE(rebind);
  EXPECT_EQ(rebind->status, 403);
  EXPECT_NE(rebind->body.find("attacker.example"), std::string::npos) << rebind->body;
  // Still serving, and still right.
  auto info = c.Get("/api/info");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->status, 200);
  EXPECT_TRUE(server_->process().running());
}

// 8 threads x 25 requests, good and bad interleaved: each good one must get exactly the image a
// lone request gets (generation is serialized; a race would mix two requests' images), each bad
// one its 4xx.
TEST_F(ServeApi, ConcurrentRequestsEachGetTheirOwnAnswer) {
  const std::vector<std::string> good = {"/api/sample?seed=11", "/api/grid?seeds=1,2,3,4,5,6&nrow=3",
                                         "/api/interpolate?a=4&b=8&steps=6", "/api/arith?a=1&b=2&c=3",
                                         "/api/sweep?seed=2&dim=3&from=-2&to=2&steps=5", "/api/sample?seed=12&shift=1:2"};
  std::vector<std::string> expected;
  for (const auto& t : good) {
    auto r = client().Get(t);
    ASSERT_TRUE(r && r->status == 200) << t;
    expected.push_back(r->body);
  }
  constexpr int kThreads = 8, kPerThread = 25;
  std::atomic<int> ok{0}, refused{0};
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto c = client();
      for (int i = 0; i < kPerThread; ++i) {
        const int k = (t * kPerThread + i) % int(good.size() + 1);
        if (k == int(good.size())) {  // a bad one in between
          auto r = c.Get("/api/grid?seeds=1,x");
          if (r && r->status == 400) ++refused;
          else failures[t] += fmt::format("bad request answered {}; ", r ? r->status : -1);
          continue;
        }
        auto r = c.Get(good[k]);
        if (r && r->status == 200 && r->body == expected[k]) ++ok;
        else failures[t] += fmt::format("{} answered {} ({} bytes); ", good[k], r ? r->status : -1, r ? r->body.size() : 0);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_TRUE(failures[t].empty()) << "thread " << t << ": " << failures[t];
  EXPECT_EQ(ok + refused, kThreads * kPerThread);
  EXPECT_GT(refused.load(), 0);
  EXPECT_TRUE(server_->process().running());
}

// A second server on a port in use fails by name (it must not share the port with the first).
TEST_F(ServeApi, APortInUseIsRefused) {
  auto r = run_dcgan(fmt::format("serve --checkpoint {} --port {}", ckpt_, server_->port()));
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find(fmt::format("cannot listen on 127.0.0.1:{}", server_->port())), std::string::npos)
      << r.output;
}

// Runs last (gtest keeps declaration order): Ctrl-C ends the server cleanly with 130.
TEST_F(ServeApi, CtrlCStopsWith130) {
  server_->process().signal(SIGINT);
  EXPECT_EQ(server_->process().wait(), 130) << server_->process().output();
  EXPECT_FALSE(server_->process().killed_by_signal());
  EXPECT_NE(server_->process().output().find("stopped (SIGINT)"), std::string::npos);
  EXPECT_FALSE(client().Get("/api/info")) << "nothing listens any more";
}

// --host beyond loopback: a warning on start; the Host check (which protects a loopback server
// from DNS rebinding) cannot apply, as clients name the machine as they reach it.
TEST(ServeHost, AnyOtherThanLoopbackWarns) {
  TempDir d("serve-host");
  testing::Process p(fmt::format("serve --checkpoint {} --port 0 --threads 1 --host 0.0.0.0",
                                 testing::tiny_checkpoint(d)), d / "serve.log");
  const int port = testing::wait_for_port(p, std::regex(R"(dcgan serve: http://0\.0\.0\.0:(\d+)/)"));
  ASSERT_GT(port, 0) << p.output();
  EXPECT_NE(p.output().find("warning: listening on 0.0.0.0: anyone who can reach this machine"), std::string::npos)
      << p.output();
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/api/info", {{"Host", "some-machine.example:8080"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(), 143) << p.output();
}

}  // namespace
}  // namespace dcgan
