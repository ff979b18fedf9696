#include "bucket_spec.hpp"

#include <Poco/JSON/Array.h>

#include <cmath>
#include <regex>

#include "errors.hpp"

namespace storage {

bool valid_bucket_name(const std::string& name) {
  // Supabase's rule, minus the characters that make paths ambiguous: no '/', no leading '.'.
  static const std::regex re(R"(^[A-Za-z0-9_][A-Za-z0-9 _.\-!*'()&$@=;:+,?]{0,99}$)");
  return std::regex_match(name, re);
}

std::optional<int64_t> parse_size(const std::string& text) {
  static const std::regex re(R"(^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)?\s*$)", std::regex::icase);
  std::smatch m;
  if (!std::regex_match(text, m, re)) return std::nullopt;
  double n = std::stod(m[1].str());
  std::string unit = m[2].str();
  for (char& ch : unit) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  double mult = unit == "kb"   ? 1024.0
                : unit == "mb" ? 1048576.0
                : unit == "gb" ? 1073741824.0
                : unit == "tb" ? 1099511627776.0
                               : 1.0;
  double bytes = std::floor(n * mult);
  if (bytes < 0 || bytes > 9.0e18) return std::nullopt;
  return static_cast<int64_t>(bytes);
}

namespace {
std::string pg_array(const Poco::JSON::Array& list) {
  static const std::regex mime(R"(^[A-Za-z0-9!#$&^_.+-]+/(\*|[A-Za-z0-9!#$&^_.+-]+)$)");
  std::string out = "{";
  for (size_t i = 0; i < list.size(); ++i) {
    auto v = list.get(static_cast<unsigned>(i));
    if (!v.isString() || !std::regex_match(v.extract<std::string>(), mime))
      throw StorageError(400, "InvalidRequest",
                         "allowed_mime_types must be MIME types such as image/png or image/*");
    if (i) out += ",";
    out += "\"" + v.extract<std::string>() + "\"";  // the regex admits no quote or backslash
  }
  return out + "}";
}
}  // namespace

BucketSpec parse_bucket_spec(const Poco::JSON::Object& body, bool creating) {
  BucketSpec s;
  auto text = [&body](const char* key) -> std::string {
    if (!body.has(key) || body.isNull(key)) return {};
    auto v = body.get(key);
    if (!v.isString())
      throw StorageError(400, "InvalidRequest", std::string(key) + " must be a string");
    return v.extract<std::string>();
  };
  s.name = text("name");
  s.id = text("id");
  if (creating) {
    if (s.name.empty()) s.name = s.id;
    if (s.id.empty()) s.id = s.name;
    if (s.name.empty()) throw StorageError(400, "InvalidRequest", "A bucket name is required");
    if (!valid_bucket_name(s.name) || !valid_bucket_name(s.id))
      throw StorageError(400, "Invalid Input", "Bucket name invalid",
                         "Bucket names are 1-100 of letters, digits, spaces and _.-!*'()&$@=;:+,?, "
                         "not starting with '.'");
  }
  if (body.has("public") && !body.isNull("public")) {
    auto v = body.get("public");
    if (v.type() != typeid(bool))
      throw StorageError(400, "InvalidRequest", "public must be true or false");
    s.is_public = v.extract<bool>();
  }
  if (body.has("file_size_limit")) {
    s.has_size_limit = true;
    if (!body.isNull("file_size_limit")) {
      auto v = body.get("file_size_limit");
      std::optional<int64_t> n;
      if (v.isInteger())
        n = v.convert<int64_t>();
      else if (v.isString())
        n = parse_size(v.extract<std::string>());
      if (!n || *n < 0)
        throw StorageError(400, "InvalidRequest",
                           "file_size_limit must be a number of bytes or a size such as 5MB");
      if (*n > 0) s.file_size_limit = n;  // 0 means no limit, as in Supabase
    }
  }
  if (body.has("allowed_mime_types")) {
    s.has_mime_types = true;
    if (!body.isNull("allowed_mime_types")) {
      auto v = body.get("allowed_mime_types");
      if (v.type() != typeid(Poco::JSON::Array::Ptr))
        throw StorageError(400, "InvalidRequest", "allowed_mime_types must be an array");
      auto list = v.extract<Poco::JSON::Array::Ptr>();
      if (list->size() > 0) s.allowed_mime_types = pg_array(*list);
    }
  }
  return s;
}

}  // namespace storage
