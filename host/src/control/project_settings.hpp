#pragma once
// The updatable project settings the spec lists, their types, and which are secrets
// (stored, never returned in clear: the project object says only `<name>_set`).
#include <Poco/JSON/Object.h>

#include <optional>
#include <string>

namespace alpaca {

struct SettingsPatch {
  std::optional<std::string> name;
  std::string settings_json = "{}";  // jsonb to merge into projects.settings (null = unset)
  std::string secrets_json = "{}";   // jsonb to merge into projects.secrets (null = unset)
};

// Validates a PATCH body; throws ApiError(400) naming the offending field.
SettingsPatch parse_settings_patch(const Poco::JSON::Object& body);

// Adds every setting (defaults for unset ones) and `<secret>_set` flags to a project object.
void render_settings(Poco::JSON::Object& out, const std::string& settings_json,
                     const std::string& secret_names_json);

}  // namespace alpaca
