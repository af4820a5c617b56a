// What a request handler of `dcgan serve` answers, independent of the HTTP library: a status,
// a content type and a body. BadRequest is how a handler refuses a request (a 4xx with a message
// in plain text); anything else it throws is the server's fault (500).
#pragma once
#include <map>
#include <stdexcept>
#include <string>

namespace dcgan::serve {

struct Reply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Query parameters as the HTTP library parsed them (a name may come more than once).
using Params = std::multimap<std::string, std::string>;

class BadRequest : public std::runtime_error {
 public:
  explicit BadRequest(const std::string& msg, int status = 400) : std::runtime_error(msg), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

}  // namespace dcgan::serve
