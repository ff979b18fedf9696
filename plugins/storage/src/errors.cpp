#include "errors.hpp"

#include <map>

namespace storage {

std::string error_code(const StorageError& e) {
  static const std::map<std::string, std::string> codes = {
      {"not_found", "NoSuchKey"},
      {"Bucket not found", "NoSuchBucket"},
      {"Duplicate", "ResourceAlreadyExists"},
      {"Payload too large", "EntityTooLarge"},
      {"invalid_mime_type", "InvalidMimeType"},
      {"Unauthorized", "AccessDenied"},
      {"InvalidJSON", "InvalidRequest"},
      {"Invalid Input", "InvalidBucketName"},
      {"too_many_requests", "SlowDown"},
  };
  auto it = codes.find(e.error);
  return it != codes.end() ? it->second : e.error;
}

void send_error(alpaca::Response& res, const StorageError& e) {
  using alpaca::json_escape;
  std::string msg = json_escape(e.what());
  std::string body = "{\"statusCode\":\"" + std::to_string(e.status) + "\",\"code\":\"";
  body += json_escape(error_code(e)) + "\",\"error\":\"" + json_escape(e.error) +
          "\",\"message\":\"" + msg + "\",\"detail\":\"";
  body += e.detail.empty() ? msg : json_escape(e.detail);
  body += "\"}";
  res.json(e.status, body);
}

StorageError from_sqlstate(const std::string& sqlstate, const std::string& message) {
  if (sqlstate == "42501") return StorageError(403, "Unauthorized", message);
  if (sqlstate == "23505") return StorageError(409, "Duplicate", "The resource already exists");
  if (sqlstate == "23503") return StorageError(409, "InvalidRequest", message);
  if (sqlstate.rfind("22", 0) == 0 || sqlstate.rfind("23", 0) == 0)
    return StorageError(400, "InvalidRequest", message);
  if (sqlstate == "57014") return StorageError(504, "DatabaseTimeout", message);
  return StorageError(500, "DatabaseError", message);
}

}  // namespace storage
