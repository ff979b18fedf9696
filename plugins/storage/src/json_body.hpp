#pragma once
// Request bodies of the storage routes: one JSON object (an empty body counts as {}), and its
// fields checked for type, with Supabase Storage's 400 errors.
#include <Poco/JSON/Object.h>

#include <alpaca/plugin.hpp>
#include <optional>
#include <string>
#include <vector>

namespace storage {

Poco::JSON::Object::Ptr json_body(alpaca::Request& req);
Poco::JSON::Object::Ptr parse_json_object(const std::string& text);  // nullptr if not an object

// A string field ("" when absent or null); 400 when it is another type.
std::string text_field(const Poco::JSON::Object& o, const char* key);
// A whole number >= 0, capped at max; fallback when absent or null.
int64_t count_field(const Poco::JSON::Object& o, const char* key, int64_t fallback, int64_t max);
// An array of strings; 400 when absent or of another type.
std::vector<std::string> text_list_field(const Poco::JSON::Object& o, const char* key);

// ["a","b"] for a statement parameter (`json_array_elements_text($n::json)`).
std::string json_text_array(const std::vector<std::string>& items);

}  // namespace storage
