#include <gtest/gtest.h>

#include "project_settings.hpp"

using namespace auth;

TEST(RedirectGlob, MatchesAsTheAllowListDocumentsIt) {
  EXPECT_TRUE(glob_match("http://localhost:3000/**", "http://localhost:3000/a/b?c=d"));
  EXPECT_TRUE(glob_match("https://*.example.com/cb", "https://app.example.com/cb"));
  EXPECT_FALSE(glob_match("https://*.example.com/cb", "https://a.b.example.com/cb"));
  EXPECT_FALSE(glob_match("https://*.example.com/cb", "https://evil.com/.example.com/cb"));
  EXPECT_TRUE(glob_match("http://exact.test/x", "http://exact.test/x"));
  EXPECT_FALSE(glob_match("http://exact.test/x", "http://exact.test/x/y"));
}

TEST(RedirectGlob, PickRedirectFallsBackToTheSiteUrl) {
  ProjectSettings s;
  s.site_url = "https://app.test";
  s.redirect_urls = {"http://localhost:3000/**"};
  EXPECT_EQ(s.pick_redirect("https://app.test/welcome"), "https://app.test/welcome");
  EXPECT_EQ(s.pick_redirect("http://localhost:3000/cb"), "http://localhost:3000/cb");
  EXPECT_EQ(s.pick_redirect("https://evil.test/"), "https://app.test");
  EXPECT_EQ(s.pick_redirect("javascript:alert(1)"), "https://app.test");
  EXPECT_EQ(s.pick_redirect(""), "https://app.test");
}
