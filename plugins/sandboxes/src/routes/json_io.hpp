// JSON in and out for the sandbox routes: a parsed object body with clear 400s, and text that
// is always valid UTF-8 in answers.
#pragma once

#include <Poco/JSON/Object.h>

#include <alpaca/plugin.hpp>
#include <string>

namespace sandboxes {

// The body as a JSON object; 400 for an empty body, bad JSON or another JSON type.
Poco::JSON::Object::Ptr json_object_body(alpaca::Request& req);
// An optional string member; 400 when present with another type.
std::string optional_string(const Poco::JSON::Object::Ptr& o, const char* key, bool* present);
// Invalid UTF-8 sequences replaced with U+FFFD.
std::string valid_utf8(const std::string& s, bool* was_valid = nullptr);

}  // namespace sandboxes
