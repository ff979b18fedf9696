#pragma once
// JSON helpers for request bodies and responses.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <sstream>
#include <string>

#include "errors.hpp"

namespace auth {

inline Poco::JSON::Object::Ptr parse_object(const std::string& text) {
  Poco::JSON::Parser p;
  return p.parse(text).extract<Poco::JSON::Object::Ptr>();
}

// The body as a JSON object ({} when empty); bad_json otherwise.
inline Poco::JSON::Object::Ptr body_object(alpaca::Request& req) {
  std::string body = req.body();
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return new Poco::JSON::Object;
  try {
    Poco::JSON::Parser p;
    auto v = p.parse(body);
    if (v.type() != typeid(Poco::JSON::Object::Ptr)) throw bad_json("expected a JSON object");
    return v.extract<Poco::JSON::Object::Ptr>();
  } catch (const AuthError&) {
    throw;
  } catch (const std::exception& e) {
    throw bad_json(e.what());
  }
}

inline std::string to_text(const Poco::Dynamic::Var& v) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(v, out);
  return out.str();
}

// A string member; "" when absent or null; validation error when another type.
inline std::string str_field(const Poco::JSON::Object& o, const char* key) {
  if (!o.has(key) || o.isNull(key)) return {};
  auto v = o.get(key);
  if (!v.isString()) throw validation(std::string(key) + " must be a string");
  return v.extract<std::string>();
}

inline bool bool_field(const Poco::JSON::Object& o, const char* key, bool fallback) {
  if (!o.has(key) || o.isNull(key)) return fallback;
  auto v = o.get(key);
  if (v.type() != typeid(bool)) throw validation(std::string(key) + " must be true or false");
  return v.extract<bool>();
}

// An object member as JSON text; "" when absent or null; validation error when not an object.
inline std::string object_field(const Poco::JSON::Object& o, const char* key) {
  if (!o.has(key) || o.isNull(key)) return {};
  auto v = o.get(key);
  if (v.type() != typeid(Poco::JSON::Object::Ptr))
    throw validation(std::string(key) + " must be an object");
  return to_text(v);
}

}  // namespace auth
