// The frame both web pages share (the explorer, page.hpp; the live view, live_page.hpp): the HTML
// document around a page's own title, style and body, and the base style they have in common.
#pragma once
#include <string>
#include <string_view>

namespace dcgan::serve {

inline constexpr std::string_view kBaseStyle = R"CSS(
  body { font: 14px system-ui, sans-serif; margin: 16px; background: #fafafa; color: #222; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  section { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px; margin: 0 0 12px; }
)CSS";

inline std::string html_page(std::string_view title, std::string_view style, std::string_view body) {
  std::string s = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>";
  s.append(title).append("</title>\n<style>").append(kBaseStyle).append(style).append("</style>\n</head>\n<body>\n");
  return s.append(body).append("</body>\n</html>\n");
}

}  // namespace dcgan::serve
