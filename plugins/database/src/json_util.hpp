#pragma once
// Small JSON writing helpers for responses built by hand (rows can be large: no DOM).
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <alpaca/plugin.hpp>
#include <string>
#include <string_view>

namespace database {

inline void append_string(std::string& out, std::string_view s) {
  out += '"';
  out += alpaca::json_escape(s);
  out += '"';
}

// A request body's text as a JSON object, or HttpError(400) saying what is wrong with it.
inline Poco::JSON::Object::Ptr json_object_body(const std::string& text) {
  if (text.empty()) throw alpaca::HttpError(400, "Request body is required");
  Poco::Dynamic::Var v;
  try {
    Poco::JSON::Parser parser;
    v = parser.parse(text);
  } catch (const std::exception& e) {
    throw alpaca::HttpError(400, "Malformed JSON body", e.what());
  }
  if (v.type() != typeid(Poco::JSON::Object::Ptr))
    throw alpaca::HttpError(400, "Request body must be a JSON object");
  return v.extract<Poco::JSON::Object::Ptr>();
}

// The request body (read once: it is streamed) as a JSON object.
inline Poco::JSON::Object::Ptr json_object_body(alpaca::Request& req) {
  return json_object_body(req.body());
}

}  // namespace database
