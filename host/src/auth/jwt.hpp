#pragma once
// HS256 JSON Web Tokens. Verification is strict: alg must be HS256 (no "none", no RS256 key
// confusion), the MAC is compared in constant time, and exp/nbf are checked as integers.
#include <cstdint>
#include <optional>
#include <string>

namespace alpaca::jwt {

struct Claims {
  std::string role;  // "role" claim ("" when absent)
  std::string sub;   // "sub" claim
  std::string ref;   // "ref" claim (project ref on keys we mint)
  std::string json;  // the whole payload as JSON text
  int64_t exp = 0;   // 0 = no expiry
};

// Signs a payload given as a JSON object text.
std::string sign(const std::string& payload_json, const std::string& secret);

// Returns the claims when `token` is a valid HS256 JWT signed with `secret` and not expired at
// `now` (unix seconds); otherwise nullopt and *why says what was wrong (safe to show clients).
std::optional<Claims> verify(const std::string& token, const std::string& secret, int64_t now,
                             std::string* why = nullptr);

bool looks_like_jwt(const std::string& token);  // three dot-separated parts

// A string claim read WITHOUT verifying the token: only to choose which secret to try or what
// to tell the caller, never to grant anything. "" when absent or unreadable.
std::string unverified_claim(const std::string& token, const char* name);

}  // namespace alpaca::jwt
