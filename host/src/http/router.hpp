#pragma once
// Method + path pattern → handler. Patterns: "/literal/:param/*rest" (wildcard last only).
// The most specific route wins (literal over :param over *wildcard, segment by segment), so
// registration order never matters.
#include <alpaca/plugin.h>

#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace alpaca {

struct Route {
  alpaca_route_scope scope;
  std::string method;  // "GET", ..., or "*"
  std::string pattern;
  uint32_t flags = 0;
  alpaca_handler_fn handler = nullptr;
  void* user = nullptr;
  std::string owner;  // plugin name, for error messages

  struct Segment {
    enum Kind { kLiteral, kParam, kWildcard } kind;
    std::string text;  // literal text or parameter name
  };
  std::vector<Segment> segments;
};

using Params = std::vector<std::pair<std::string, std::string>>;

struct RouteMatch {
  const Route* route = nullptr;  // null: no route for this method
  Params params;
  std::vector<std::string> allowed;  // methods that would match the path (for 405)
};

class Router {
 public:
  // Parses `pattern`; throws std::invalid_argument on a malformed pattern.
  static std::vector<Route::Segment> parse_pattern(const std::string& pattern);

  // Adds a route. Returns the owner of a clashing route when the same method and pattern shape
  // already exist in that scope (nothing is added then).
  std::optional<std::string> add(Route route);
  // Removes every route of `owner` (a plugin refused after registering some routes).
  void remove_owner(const std::string& owner);

  // `path` is without the query string; params are percent-decoded.
  RouteMatch match(alpaca_route_scope scope, std::string_view method, std::string_view path) const;
  // Number of routes registered (all scopes).
  size_t size() const;

 private:
  std::vector<Route> routes_;
  mutable std::shared_mutex mutex_;
};

// Percent-decodes a URL path segment or query component ('+' as space when `plus_is_space`).
// Returns nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space = false);

}  // namespace alpaca
