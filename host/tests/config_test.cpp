#include "core/config.hpp"

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "control/control_plane.hpp"
#include "control/project_settings.hpp"

namespace alpaca {
namespace {

TEST(Config, FileThenEnvironmentOverride) {
  std::string path = ::testing::TempDir() + "/alpaca-config-test.properties";
  {
    std::ofstream out(path);
    out << "# comment\nhttp.port = 9000\nfoo.bar_baz=hello world\n\n";
  }
  Config c(path);
  EXPECT_EQ(c.get_int("http.port", 1), 9000);
  EXPECT_EQ(c.get("foo.bar_baz", ""), "hello world");
  ::setenv("ALPACA_FOO_BAR_BAZ", "from env", 1);
  EXPECT_EQ(c.get("foo.bar_baz", ""), "from env");
  ::unsetenv("ALPACA_FOO_BAR_BAZ");
  EXPECT_EQ(c.get("missing", "fallback"), "fallback");
  EXPECT_EQ(Config::env_name("database.url"), "ALPACA_DATABASE_URL");
  EXPECT_EQ(Config::env_name("data_dir"), "ALPACA_DATA_DIR");
}

TEST(Config, BadValuesAreClearErrors) {
  Config c;
  c.set("http.port", "eighty");
  try {
    c.get_int("http.port", 1);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("ALPACA_HTTP_PORT"), std::string::npos);
  }
  c.set("log.requests", "maybe");
  EXPECT_THROW(c.get_bool("log.requests", true), std::runtime_error);
  EXPECT_THROW(Config("/nonexistent/alpaca.properties"), std::runtime_error);
}

Poco::JSON::Object::Ptr parse(const std::string& s) {
  Poco::JSON::Parser p;
  return p.parse(s).extract<Poco::JSON::Object::Ptr>();
}

TEST(ProjectSettings, SecretsAreSeparatedAndTypesChecked) {
  auto patch = parse_settings_patch(
      *parse(R"({"name":"n","repo_url":"https://x","github_token":"ghp_1","forms_enabled":true})"));
  EXPECT_EQ(*patch.name, "n");
  EXPECT_NE(patch.secrets_json.find("ghp_1"), std::string::npos);
  EXPECT_EQ(patch.settings_json.find("ghp_1"), std::string::npos);
  EXPECT_THROW(parse_settings_patch(*parse(R"({"forms_enabled":"yes"})")), ApiError);
  EXPECT_THROW(parse_settings_patch(*parse(R"({"env_vars":{"a":1}})")), ApiError);
  EXPECT_THROW(parse_settings_patch(*parse(R"({"unknown":1})")), ApiError);
  EXPECT_THROW(parse_settings_patch(*parse(R"({"name":""})")), ApiError);
}

TEST(ProjectSettings, RenderShowsDefaultsAndHidesSecrets) {
  Poco::JSON::Object out;
  render_settings(out, R"({"repo_url":"r"})", R"(["github_token"])");
  std::ostringstream s;
  out.stringify(s);
  auto o = parse(s.str());
  EXPECT_EQ(o->getValue<std::string>("repo_url"), "r");
  EXPECT_TRUE(o->getValue<bool>("github_token_set"));
  EXPECT_FALSE(o->getValue<bool>("google_client_secret_set"));
  EXPECT_FALSE(o->has("github_token"));
  EXPECT_TRUE(o->isNull("build_command"));
  EXPECT_FALSE(o->getValue<bool>("forms_enabled"));
}

}  // namespace
}  // namespace alpaca
