#pragma once
// The Prefer header of a /rest/v1 request (comma-separated key=value preferences).
#include <string>
#include <string_view>

namespace database::rest {

struct Prefer {
  std::string return_;     // minimal | representation | headers-only | "" (the method's default)
  std::string count;       // exact | planned | estimated | ""
  std::string resolution;  // merge-duplicates | ignore-duplicates | ""
  std::string missing;     // default | null | ""

  static Prefer parse(const char* header) {
    Prefer p;
    std::string_view s = header ? header : "";
    while (!s.empty()) {
      size_t comma = s.find(',');
      std::string_view item = s.substr(0, comma);
      s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      size_t eq = item.find('=');
      if (eq == std::string_view::npos) continue;
      std::string key(item.substr(0, eq)), value(item.substr(eq + 1));
      if (key == "return") p.return_ = value;
      if (key == "count") p.count = value;
      if (key == "resolution") p.resolution = value;
      if (key == "missing") p.missing = value;
    }
    return p;
  }
};

}  // namespace database::rest
