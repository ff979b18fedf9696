#include "auth/jwt.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "auth/crypto.hpp"

namespace alpaca::jwt {

namespace {
const std::string kHeader = crypto::base64url_encode(R"({"alg":"HS256","typ":"JWT"})");

bool fail(std::string* why, const char* msg) {
  if (why) *why = msg;
  return false;
}

// Numeric claim as an integer; false when present but not a number.
bool int_claim(const Poco::JSON::Object& o, const char* name, int64_t& out) {
  if (!o.has(name)) return true;
  Poco::Dynamic::Var v = o.get(name);
  if (!v.isNumeric()) return false;
  out = static_cast<int64_t>(v.convert<double>());
  return true;
}
std::string str_claim(const Poco::JSON::Object& o, const char* name) {
  if (!o.has(name)) return {};
  Poco::Dynamic::Var v = o.get(name);
  return v.isString() ? v.extract<std::string>() : std::string();
}
}  // namespace

bool looks_like_jwt(const std::string& token) {
  size_t a = token.find('.');
  if (a == std::string::npos) return false;
  size_t b = token.find('.', a + 1);
  return b != std::string::npos && token.find('.', b + 1) == std::string::npos;
}

std::string unverified_claim(const std::string& token, const char* name) {
  if (!looks_like_jwt(token)) return {};
  size_t a = token.find('.'), b = token.find('.', a + 1);
  std::string payload;
  if (!crypto::base64url_decode(std::string_view(token).substr(a + 1, b - a - 1), payload))
    return {};
  try {
    Poco::JSON::Parser parser;
    auto p = parser.parse(payload).extract<Poco::JSON::Object::Ptr>();
    return p ? str_claim(*p, name) : std::string();
  } catch (const std::exception&) {
    return {};
  }
}

std::string sign(const std::string& payload_json, const std::string& secret) {
  std::string input = kHeader + "." + crypto::base64url_encode(payload_json);
  return input + "." + crypto::base64url_encode(crypto::hmac_sha256(secret, input));
}

std::optional<Claims> verify(const std::string& token, const std::string& secret, int64_t now,
                             std::string* why) {
  size_t a = token.find('.');
  size_t b = a == std::string::npos ? a : token.find('.', a + 1);
  if (b == std::string::npos || token.find('.', b + 1) != std::string::npos) {
    fail(why, "token is not a JWT");
    return std::nullopt;
  }
  std::string header, payload, sig;
  if (!crypto::base64url_decode(std::string_view(token).substr(0, a), header) ||
      !crypto::base64url_decode(std::string_view(token).substr(a + 1, b - a - 1), payload) ||
      !crypto::base64url_decode(std::string_view(token).substr(b + 1), sig)) {
    fail(why, "token is not valid base64url");
    return std::nullopt;
  }
  Poco::JSON::Parser parser;
  try {
    auto h = parser.parse(header).extract<Poco::JSON::Object::Ptr>();
    if (!h || str_claim(*h, "alg") != "HS256") {
      fail(why, "token algorithm must be HS256");
      return std::nullopt;
    }
  } catch (const std::exception&) {
    fail(why, "token header is not JSON");
    return std::nullopt;
  }
  std::string expected = crypto::hmac_sha256(secret, std::string_view(token).substr(0, b));
  if (!crypto::constant_time_equals(expected, sig)) {
    fail(why, "invalid token signature");
    return std::nullopt;
  }
  Claims c;
  try {
    parser.reset();
    auto p = parser.parse(payload).extract<Poco::JSON::Object::Ptr>();
    if (!p) throw std::runtime_error("payload");
    int64_t nbf = 0;
    if (!int_claim(*p, "exp", c.exp) || !int_claim(*p, "nbf", nbf)) {
      fail(why, "token exp/nbf must be numbers");
      return std::nullopt;
    }
    if (c.exp != 0 && now >= c.exp) {
      fail(why, "token has expired");
      return std::nullopt;
    }
    if (nbf != 0 && now < nbf) {
      fail(why, "token is not valid yet");
      return std::nullopt;
    }
    c.role = str_claim(*p, "role");
    c.sub = str_claim(*p, "sub");
    c.ref = str_claim(*p, "ref");
    c.json = payload;
  } catch (const std::exception&) {
    fail(why, "token payload is not a JSON object");
    return std::nullopt;
  }
  return c;
}

}  // namespace alpaca::jwt
