#pragma once
// A bucket as POST/PUT /bucket describe it, validated: name, public, file_size_limit (bytes, or
// "5MB"-style text as supabase-js sends it) and allowed_mime_types ("image/png", "image/*").
#include <Poco/JSON/Object.h>

#include <optional>
#include <string>

namespace storage {

struct BucketSpec {
  std::string id, name;
  std::optional<bool> is_public;
  bool has_size_limit = false;  // the key was given (null clears the limit)
  std::optional<int64_t> file_size_limit;
  bool has_mime_types = false;
  std::optional<std::string> allowed_mime_types;  // a Postgres text[] literal, nullopt = NULL
};

// Throws StorageError(400) naming the bad field. `creating`: name (or id) is required.
BucketSpec parse_bucket_spec(const Poco::JSON::Object& body, bool creating);
bool valid_bucket_name(const std::string& name);
// "1048576", "100kb", "5MB", "1.5gb" → bytes; nullopt when not a size.
std::optional<int64_t> parse_size(const std::string& text);

}  // namespace storage
