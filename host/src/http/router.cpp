#include "http/router.hpp"

#include <algorithm>
#include <mutex>
#include <stdexcept>

namespace alpaca {

namespace {
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  if (!path.empty() && path[0] == '/') i = 1;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  // "/" and "" are the root: no segments. A trailing slash is ignored.
  if (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

std::string shape(const std::vector<Route::Segment>& segs) {
  std::string s;
  for (const auto& seg : segs) {
    s += '/';
    s += seg.kind == Route::Segment::kLiteral ? seg.text
         : seg.kind == Route::Segment::kParam ? ":"
                                              : "*";
  }
  return s;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<Route::Segment> Router::parse_pattern(const std::string& pattern) {
  if (pattern.empty() || pattern[0] != '/')
    throw std::invalid_argument("route pattern must start with '/': " + pattern);
  std::vector<Route::Segment> segs;
  auto parts = split_path(pattern);
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string_view p = parts[i];
    if (p.empty()) throw std::invalid_argument("empty segment in route pattern: " + pattern);
    if (p[0] == ':') {
      if (p.size() == 1) throw std::invalid_argument("unnamed :param in " + pattern);
      segs.push_back({Route::Segment::kParam, std::string(p.substr(1))});
    } else if (p[0] == '*') {
      if (i + 1 != parts.size())
        throw std::invalid_argument("*wildcard must be the last segment: " + pattern);
      segs.push_back({Route::Segment::kWildcard, std::string(p.size() > 1 ? p.substr(1) : "*")});
    } else {
      segs.push_back({Route::Segment::kLiteral, std::string(p)});
    }
  }
  return segs;
}

std::optional<std::string> Router::add(Route route) {
  route.segments = parse_pattern(route.pattern);
  std::unique_lock lock(mutex_);
  std::string s = shape(route.segments);
  for (const auto& r : routes_) {
    if (r.scope == route.scope && shape(r.segments) == s &&
        (r.method == route.method || r.method == "*" || route.method == "*"))
      return r.owner;
  }
  routes_.push_back(std::move(route));
  return std::nullopt;
}

void Router::remove_owner(const std::string& owner) {
  std::unique_lock lock(mutex_);
  routes_.erase(std::remove_if(routes_.begin(), routes_.end(),
                               [&](const Route& r) { return r.owner == owner; }),
                routes_.end());
}

size_t Router::size() const {
  std::shared_lock lock(mutex_);
  return routes_.size();
}

RouteMatch Router::match(alpaca_route_scope scope, std::string_view method,
                         std::string_view path) const {
  auto parts = split_path(path);
  RouteMatch best;
  // Specificity key: per segment 2 = literal, 1 = param, 0 = wildcard; compared lexicographically.
  std::vector<int> best_key;
  std::shared_lock lock(mutex_);
  for (const auto& r : routes_) {
    if (r.scope != scope) continue;
    const auto& segs = r.segments;
    bool wildcard = !segs.empty() && segs.back().kind == Route::Segment::kWildcard;
    size_t fixed = wildcard ? segs.size() - 1 : segs.size();
    if (wildcard ? parts.size() < fixed : parts.size() != fixed) continue;
    std::vector<int> key;
    bool ok = true;
    for (size_t i = 0; i < fixed && ok; ++i) {
      if (segs[i].kind == Route::Segment::kLiteral) {
        ok = segs[i].text == parts[i];
        key.push_back(2);
      } else {
        ok = !parts[i].empty();
        key.push_back(1);
      }
    }
    if (!ok) continue;
    if (wildcard) key.push_back(0);
    // HEAD is answered by the GET route unless one exists for HEAD (Poco sends no body).
    bool head_as_get = method == "HEAD" && r.method == "GET";
    if (r.method != method && r.method != "*" && !head_as_get) {
      if (std::find(best.allowed.begin(), best.allowed.end(), r.method) == best.allowed.end())
        best.allowed.push_back(r.method);
      continue;
    }
    // Last tie-break: the exact method, then "*", then GET answering a HEAD.
    key.push_back(r.method == method ? 2 : r.method == "*" ? 1 : 0);
    if (best.route && key <= best_key) continue;
    best.route = &r;
    best_key = std::move(key);
  }
  if (!best.route) return best;
  // Capture parameters of the winner.
  const auto& segs = best.route->segments;
  for (size_t i = 0; i < segs.size(); ++i) {
    if (segs[i].kind == Route::Segment::kParam) {
      auto v = percent_decode(parts[i]);
      best.params.emplace_back(segs[i].text, v ? *v : std::string(parts[i]));
    } else if (segs[i].kind == Route::Segment::kWildcard) {
      std::string rest;
      for (size_t j = i; j < parts.size(); ++j) {
        if (j > i) rest += '/';
        rest += parts[j];
      }
      auto v = percent_decode(rest);
      best.params.emplace_back(segs[i].text, v ? *v : rest);
    }
  }
  return best;
}

}  // namespace alpaca
