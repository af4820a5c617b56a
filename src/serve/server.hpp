// A small HTTP server for local pages (the explorer of `dcgan serve`, the live view of
// `dcgan train --serve`): GET only, bounded requests, plain-text 4xx messages, one Handler that
// maps (path, query parameters) to a Reply. The HTTP library (cpp-httplib) stays in server.cpp.
//
// Security defaults: it listens on 127.0.0.1 unless told otherwise; while it listens on a
// loopback address it also refuses requests whose Host header names another host (a web page
// elsewhere cannot reach it through DNS rebinding); request targets over kMaxTarget bytes and
// bodies over kMaxBody bytes are refused; every reply forbids content-type sniffing and, for the
// page, loading anything from another origin.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "serve/http_reply.hpp"

namespace dcgan::serve {

using Handler = std::function<Reply(const std::string& path, const Params& params)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see HttpServer::port)
};

inline constexpr size_t kMaxTarget = 2048;  // bytes of path + query
inline constexpr size_t kMaxBody = 1024;    // GET requests carry none; anything bigger is refused

// True for the addresses only this machine can reach: 127.x.x.x, ::1, localhost.
bool is_loopback(const std::string& host);

class HttpServer {
 public:
  // Binds host:port (throws dcgan::Error when it cannot, e.g. the port is taken).
  HttpServer(Handler handler, const ServerOptions& options);
  ~HttpServer();  // stops and joins
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;         // the bound port (the chosen one for port 0)
  std::string url() const;  // http://host:port/

  // Serves on a background thread until stop() or destruction.
  void start();
  // Serves until SIGINT or SIGTERM and returns that signal's number (throws dcgan::Error should the
  // server stop by itself).
  int run_until_signal();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dcgan::serve
