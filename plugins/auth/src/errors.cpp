#include "errors.hpp"

#include <cstring>

namespace auth {

void send_error(alpaca::Request& req, alpaca::Response& res, const AuthError& e) {
  using alpaca::json_escape;
  std::string msg = json_escape(e.what());
  std::string body = "{";
  const char* version = req.header("X-Supabase-Api-Version");
  if (version && std::strcmp(version, "2024-01-01") >= 0) {
    body += "\"code\":\"" + json_escape(e.code) + "\",\"message\":\"" + msg + "\"";
    // auth-js reads "code" as the error code only when the answer names its API version.
    res.header("X-Supabase-Api-Version", "2024-01-01");
  } else {
    body += "\"code\":" + std::to_string(e.status) + ",\"error_code\":\"" + json_escape(e.code) +
            "\",\"msg\":\"" + msg + "\"";
  }
  body += ",\"error\":\"" + msg + "\",\"detail\":\"" + json_escape(e.code) + "\"";
  if (!e.extra.empty()) body += "," + e.extra;
  body += "}";
  res.status(e.status).header("Content-Type", "application/json").header("x-sb-error-code", e.code);
  res.send(body);
}

AuthError bad_json(const std::string& detail) {
  return AuthError(400, "bad_json", "Could not parse request body as JSON: " + detail);
}

AuthError validation(const std::string& message) {
  return AuthError(400, "validation_failed", message);
}

}  // namespace auth
