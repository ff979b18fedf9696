#pragma once
// GoTrue's errors: a status, a machine-readable error_code and a message. Written in the shape
// the caller's X-Supabase-Api-Version asks for (see send_error).
#include <alpaca/plugin.hpp>
#include <stdexcept>
#include <string>

namespace auth {

struct AuthError : std::runtime_error {
  AuthError(int status, std::string code, const std::string& message, std::string extra = {})
      : std::runtime_error(message),
        status(status),
        code(std::move(code)),
        extra(std::move(extra)) {}
  int status;
  std::string code;   // GoTrue's error_code, e.g. "invalid_credentials"
  std::string extra;  // more members for the body, as `"k":v,...` JSON text, or ""
};

// 2024-01-01 and later: {"code":"<error_code>","message"}; before: {"code":<status>,
// "error_code","msg"}; both with our "error"/"detail" and the x-sb-error-code header.
void send_error(alpaca::Request& req, alpaca::Response& res, const AuthError& e);

// Common errors.
AuthError bad_json(const std::string& detail);
AuthError validation(const std::string& message);

}  // namespace auth
