#include "serve/server.hpp"

#include <signal.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>

#include "dcgan/error.hpp"

namespace dcgan::serve {

namespace {

std::atomic<int> g_signal{0};
extern "C" void on_stop_signal(int sig) { g_signal.store(sig); }

const char* kPagePolicy =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' blob: data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void refuse(httplib::Response& res, int status, const std::string& msg) {
  res.status = status;
  res.set_content(msg + "\n", "text/plain; charset=utf-8");
}

// The host part of a Host header: "127.0.0.1:8080" -> "127.0.0.1", "[::1]:80" -> "::1".
std::string host_of(const std::string& header) {
  if (!header.empty() && header[0] == '[') {
    const size_t close = header.find(']');
    return close == std::string::npos ? header : header.substr(1, close - 1);
  }
  return header.substr(0, header.find(':'));
}

}  // namespace

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

struct HttpServer::Impl {
  httplib::Server http;
  Handler handler;
  ServerOptions options;
  int port = 0;
  std::thread thread;
  std::atomic<bool> listening_ended{false};

  void dispatch(const httplib::Request& req, httplib::Response& res) {
    try {
      Reply r = handler(req.path, req.params);
      res.status = r.status;
      res.set_content(std::move(r.body), r.content_type.c_str());
    } catch (const BadRequest& e) {
      refuse(res, e.status(), e.what());
    } catch (const std::exception& e) {
      refuse(res, 500, fmt::format("the server failed on this request: {}", e.what()));
    }
  }

  // Runs before routing: what is refused whatever the path.
  httplib::Server::HandlerResponse screen(const httplib::Request& req, httplib::Response& res) {
    using R = httplib::Server::HandlerResponse;
    if (req.method != "GET" && req.method != "HEAD") {
      res.set_header("Allow", "GET, HEAD");
      refuse(res, 405, fmt::format("method {} not allowed: this server only answers GET", req.method));
      return R::Handled;
    }
    if (req.target.size() > kMaxTarget) {
      refuse(res, 414, fmt::format("request target of {} bytes refused (at most {})", req.target.size(), kMaxTarget));
      return R::Handled;
    }
    // The HTTP library does not read a GET's body: refused here, it cannot be taken for the
    // connection's next request either (the reply closes the connection).
    const std::string length = req.get_header_value("Content-Length");
    if (!req.body.empty() || (!length.empty() && length != "0") || req.has_header("Transfer-Encoding")) {
      res.set_header("Connection", "close");
      refuse(res, 413, "a GET request carries no body");
      return R::Handled;
    }
    if (is_loopback(options.host)) {
      const std::string host = host_of(req.get_header_value("Host"));
      if (!is_loopback(host)) {
        refuse(res, 403, fmt::format("Host '{}' refused: this server only answers pages of this machine "
                                     "(127.0.0.1 or localhost)", host.substr(0, 64)));
        return R::Handled;
      }
    }
    return R::Unhandled;
  }
};

HttpServer::HttpServer(Handler handler, const ServerOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  // A browser that closes a connection while an image is being sent must not end the process
  // (SIGPIPE's default action): the write fails with EPIPE and the server carries on.
  std::signal(SIGPIPE, SIG_IGN);
  m.handler = std::move(handler);
  m.options = options;
  m.http.set_payload_max_length(kMaxBody);
  // SO_REUSEADDR only: the library's default adds SO_REUSEPORT, with which a second server (of
  // this user) binds the same port and silently takes half the connections, instead of failing.
  m.http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  m.http.set_read_timeout(5);
  // Replies go out as headers then body in two writes; with Nagle's algorithm the second waits for
  // the client's delayed ACK, 40 ms on Linux, which was most of every request's latency.
  m.http.set_tcp_nodelay(true);
  m.http.set_default_headers({{"X-Content-Type-Options", "nosniff"},
                              {"Content-Security-Policy", kPagePolicy},
                              {"Cache-Control", "no-store"}});
  m.http.set_pre_routing_handler([&m](const httplib::Request& q, httplib::Response& r) { return m.screen(q, r); });
  m.http.Get(".*", [&m](const httplib::Request& q, httplib::Response& r) { m.dispatch(q, r); });
  // What the library refuses itself (malformed requests, a body over the limit) gets a message too.
  m.http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty())
      refuse(res, res.status, fmt::format("request refused (HTTP {})", res.status));
  });
  if (options.port < 0 || options.port > 65535)
    throw ConfigError(fmt::format("invalid port {}: must be 0 (any free port) to 65535", options.port));
  m.port = options.port == 0 ? m.http.bind_to_any_port(options.host)
                             : (m.http.bind_to_port(options.host, options.port) ? options.port : -1);
  if (m.port <= 0)
    throw Error(fmt::format("cannot listen on {}:{} (address not available, or the port is in use)", options.host,
                            options.port),
                "give another --port, or --port 0 for any free one");
}

HttpServer::~HttpServer() { stop(); }

int HttpServer::port() const { return impl_->port; }

std::string HttpServer::url() const {
  const std::string& h = impl_->options.host;
  return fmt::format("http://{}:{}/", h.find(':') != std::string::npos ? "[" + h + "]" : h, impl_->port);
}

void HttpServer::start() {
  impl_->thread = std::thread([this] {
    impl_->http.listen_after_bind();
    impl_->listening_ended = true;
  });
}

void HttpServer::stop() {
  impl_->http.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int HttpServer::run_until_signal() {
  g_signal.store(0);
  struct sigaction sa = {}, old_int = {}, old_term = {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  start();
  // The handler only records the signal; stopping the server is not async-signal-safe, so this
  // thread polls for it.
  while (g_signal.load() == 0 && !impl_->listening_ended) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop();
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (g_signal.load() == 0) throw Error(fmt::format("the server at {} stopped listening by itself", url()));
  return g_signal.load();
}

}  // namespace dcgan::serve
