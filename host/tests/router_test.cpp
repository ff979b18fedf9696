#include "http/router.hpp"

#include <gtest/gtest.h>

namespace alpaca {
namespace {

alpaca_status noop(void*, alpaca_request*, alpaca_response*) {
  return ALPACA_OK;
}

Route route(alpaca_route_scope scope, const char* method, const char* pattern,
            const char* owner = "t") {
  Route r;
  r.scope = scope;
  r.method = method;
  r.pattern = pattern;
  r.handler = noop;
  r.owner = owner;
  return r;
}

std::string param(const RouteMatch& m, const std::string& name) {
  for (const auto& [k, v] : m.params)
    if (k == name) return v;
  return "<absent>";
}

TEST(Router, LiteralBeatsParamBeatsWildcard) {
  Router r;
  ASSERT_FALSE(r.add(route(ALPACA_SCOPE_MANAGEMENT, "GET", "/projects/:id")));
  ASSERT_FALSE(r.add(route(ALPACA_SCOPE_MANAGEMENT, "GET", "/projects/special")));
  ASSERT_FALSE(r.add(route(ALPACA_SCOPE_MANAGEMENT, "GET", "/projects/*rest")));
  EXPECT_EQ(r.match(ALPACA_SCOPE_MANAGEMENT, "GET", "/projects/special").route->pattern,
            "/projects/special");
  auto m = r.match(ALPACA_SCOPE_MANAGEMENT, "GET", "/projects/abc");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.route->pattern, "/projects/:id");
  EXPECT_EQ(param(m, "id"), "abc");
  m = r.match(ALPACA_SCOPE_MANAGEMENT, "GET", "/projects/a/b/c");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(param(m, "rest"), "a/b/c");
}

TEST(Router, WildcardMayBeEmptyAndParamsDecode) {
  Router r;
  ASSERT_FALSE(r.add(route(ALPACA_SCOPE_PROJECT, "*", "/storage/v1/object/:bucket/*path")));
  auto m = r.match(ALPACA_SCOPE_PROJECT, "POST", "/storage/v1/object/my%20b/dir/a%2Fb.txt");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(param(m, "bucket"), "my b");
  EXPECT_EQ(param(m, "path"), "dir/a/b.txt");
  m = r.match(ALPACA_SCOPE_PROJECT, "GET", "/storage/v1/object/b");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(param(m, "path"), "");
}

TEST(Router, MethodMismatchListsAllowed) {
  Router r;
  ASSERT_FALSE(r.add(route(ALPACA_SCOPE_MANAGEMENT, "GET", "/projects")));
  ASSERT_FALSE(r.add(route(ALPACA_SCOPE_MANAGEMENT, "POST", "/projects")));
  auto m = r.match(ALPACA_SCOPE_MANAGEMENT, "PUT", "/projects");
  EXPECT_FALSE(m.route);
  EXPECT_EQ(m.allowed.size(), 2u);
  EXPECT_FALSE(r.match(ALPACA_SCOPE_MANAGEMENT, "GET", "/nothing").route);
  EXPECT_TRUE(r.match(ALPACA_SCOPE_MANAGEMENT, "GET", "/nothing").allowed.empty());
}

TEST(Router, HeadFallsBackToGet) {
  Router r;
  ASSERT_FALSE(r.add(route(ALPACA_SCOPE_PUBLIC, "GET", "/file/:name")));
  auto m = r.match(ALPACA_SCOPE_PUBLIC, "HEAD", "/file/a");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.route->method, "GET");
  ASSERT_FALSE(r.add(route(ALPACA_SCOPE_PUBLIC, "HEAD", "/file/:name")));
  EXPECT_EQ(r.match(ALPACA_SCOPE_PUBLIC, "HEAD", "/file/a").route->method, "HEAD");
  EXPECT_FALSE(r.match(ALPACA_SCOPE_PUBLIC, "POST", "/file/a").route);
}

TEST(Router, ScopesAreSeparate) {
  Router r;
  ASSERT_FALSE(r.add(route(ALPACA_SCOPE_PROJECT, "GET", "/health")));
  EXPECT_FALSE(r.match(ALPACA_SCOPE_PUBLIC, "GET", "/health").route);
  EXPECT_TRUE(r.match(ALPACA_SCOPE_PROJECT, "GET", "/health").route);
}

TEST(Router, DuplicateShapeNamesTheOwner) {
  Router r;
  ASSERT_FALSE(r.add(route(ALPACA_SCOPE_PUBLIC, "GET", "/a/:x", "first")));
  auto clash = r.add(route(ALPACA_SCOPE_PUBLIC, "GET", "/a/:y", "second"));
  ASSERT_TRUE(clash);
  EXPECT_EQ(*clash, "first");
  EXPECT_TRUE(r.add(route(ALPACA_SCOPE_PUBLIC, "*", "/a/:z", "third")));
  EXPECT_FALSE(r.add(route(ALPACA_SCOPE_PUBLIC, "POST", "/a/:x", "fourth")));
  r.remove_owner("first");
  EXPECT_FALSE(r.match(ALPACA_SCOPE_PUBLIC, "GET", "/a/1").route);
}

TEST(Router, RejectsMalformedPatterns) {
  EXPECT_THROW(Router::parse_pattern("no-slash"), std::invalid_argument);
  EXPECT_THROW(Router::parse_pattern("/a/*rest/b"), std::invalid_argument);
  EXPECT_THROW(Router::parse_pattern("/a//b"), std::invalid_argument);
  EXPECT_THROW(Router::parse_pattern("/a/:"), std::invalid_argument);
}

TEST(PercentDecode, HandlesEscapesAndRejectsBadOnes) {
  EXPECT_EQ(*percent_decode("a%20b%2F"), "a b/");
  EXPECT_EQ(*percent_decode("a+b", true), "a b");
  EXPECT_EQ(*percent_decode("a+b", false), "a+b");
  EXPECT_FALSE(percent_decode("%ZZ"));
  EXPECT_FALSE(percent_decode("abc%2"));
  EXPECT_FALSE(percent_decode("%"));
}

}  // namespace
}  // namespace alpaca
