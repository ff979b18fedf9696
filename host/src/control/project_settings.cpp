#include "control/project_settings.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <sstream>

#include "control/control_plane.hpp"

namespace alpaca {
namespace {

enum class Kind { kString, kBool, kStringMap };
struct Field {
  const char* name;
  Kind kind;
  bool secret;
};
const Field kFields[] = {
    {"repo_url", Kind::kString, false},
    {"build_command", Kind::kString, false},
    {"output_dir", Kind::kString, false},
    {"install_command", Kind::kString, false},
    {"production_branch", Kind::kString, false},
    {"env_vars", Kind::kStringMap, false},
    {"email_notifications", Kind::kBool, false},
    {"slack_webhook", Kind::kString, false},
    {"forms_enabled", Kind::kBool, false},
    {"webhook_secret", Kind::kString, false},
    {"github_token", Kind::kString, true},
    {"google_client_id", Kind::kString, false},
    {"google_client_secret", Kind::kString, true},
};
constexpr size_t kMaxSettingLength = 8192;

std::string field_list() {
  std::string s = "name";
  for (const auto& f : kFields) s += std::string(", ") + f.name;
  return s;
}

const char* kind_name(Kind k) {
  return k == Kind::kString ? "a string or null"
         : k == Kind::kBool ? "a boolean"
                            : "an object of string values";
}

bool valid(Kind kind, const Poco::Dynamic::Var& v) {
  if (v.isEmpty()) return kind != Kind::kBool;  // null clears strings and maps
  switch (kind) {
    case Kind::kString:
      return v.isString() && v.extract<std::string>().size() <= kMaxSettingLength;
    case Kind::kBool:
      return v.type() == typeid(bool);
    case Kind::kStringMap: {
      if (v.type() != typeid(Poco::JSON::Object::Ptr)) return false;
      auto obj = v.extract<Poco::JSON::Object::Ptr>();
      for (const auto& [k, val] : *obj)
        if (!val.isString() || k.size() > 256 ||
            val.extract<std::string>().size() > kMaxSettingLength)
          return false;
      return true;
    }
  }
  return false;
}

std::string stringify(const Poco::JSON::Object& o) {
  std::ostringstream s;
  o.stringify(s);
  return s.str();
}

}  // namespace

SettingsPatch parse_settings_patch(const Poco::JSON::Object& body) {
  SettingsPatch patch;
  Poco::JSON::Object settings, secrets;
  for (const auto& [key, value] : body) {
    if (key == "name") {
      if (!value.isString() || value.extract<std::string>().empty() ||
          value.extract<std::string>().size() > 100)
        throw ApiError(400, "Field 'name' must be a non-empty string of at most 100 characters");
      patch.name = value.extract<std::string>();
      continue;
    }
    const Field* field = nullptr;
    for (const auto& f : kFields)
      if (key == f.name) field = &f;
    if (!field)
      throw ApiError(400, "Unknown field '" + key + "'", "Updatable fields: " + field_list());
    if (!valid(field->kind, value))
      throw ApiError(400, "Field '" + key + "' must be " + kind_name(field->kind),
                     field->kind == Kind::kString ? "at most 8192 characters" : "");
    (field->secret ? secrets : settings).set(key, value);
  }
  patch.settings_json = stringify(settings);
  patch.secrets_json = stringify(secrets);
  return patch;
}

void render_settings(Poco::JSON::Object& out, const std::string& settings_json,
                     const std::string& secret_names_json) {
  Poco::JSON::Parser parser;
  auto settings = parser.parse(settings_json).extract<Poco::JSON::Object::Ptr>();
  parser.reset();
  auto secret_names = parser.parse(secret_names_json).extract<Poco::JSON::Array::Ptr>();
  for (const auto& f : kFields) {
    if (f.secret) {
      bool set = false;
      for (size_t i = 0; i < secret_names->size(); ++i)
        if (secret_names->getElement<std::string>(i) == f.name) set = true;
      out.set(std::string(f.name) + "_set", set);
    } else if (settings->has(f.name)) {
      out.set(f.name, settings->get(f.name));
    } else if (f.kind == Kind::kBool) {
      out.set(f.name, false);
    } else if (f.kind == Kind::kStringMap) {
      out.set(f.name, Poco::JSON::Object::Ptr(new Poco::JSON::Object));
    } else {
      out.set(f.name, Poco::Dynamic::Var());
    }
  }
}

}  // namespace alpaca
