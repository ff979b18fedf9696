#pragma once
// Supabase Storage's errors: {"statusCode": "<status>", "code", "error", "message"} plus our
// "detail".
#include <alpaca/plugin.hpp>
#include <stdexcept>
#include <string>

namespace storage {

struct StorageError : std::runtime_error {
  StorageError(int status, std::string error, const std::string& message, std::string detail = {})
      : std::runtime_error(message),
        status(status),
        error(std::move(error)),
        detail(std::move(detail)) {}
  int status;
  std::string error;   // Supabase's short name: "Bucket not found", "Duplicate", "Unauthorized"
  std::string detail;  // more than Supabase's message says ("" → the message)
};

// 404 "Object not found" (code NoSuchKey), the answer for every object the caller cannot see.
inline StorageError object_not_found() {
  return StorageError(404, "not_found", "Object not found");
}

// Supabase's machine-readable `code` for an error name ("not_found" → "NoSuchKey"); storage-js
// exposes it as error.code (exists() looks for NoSuchKey).
std::string error_code(const StorageError& e);

void send_error(alpaca::Response& res, const StorageError& e);

// What Postgres said, as Supabase Storage words it (RLS → 403 Unauthorized, unique → 409
// Duplicate, else 400/500).
StorageError from_sqlstate(const std::string& sqlstate, const std::string& message);

}  // namespace storage
