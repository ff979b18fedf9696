#pragma once
// Supabase Storage's errors: {"statusCode": "<status>", "error", "message"} plus our "detail".
#include <alpaca/plugin.hpp>
#include <stdexcept>
#include <string>

namespace storage {

struct StorageError : std::runtime_error {
  StorageError(int status, std::string error, const std::string& message)
      : std::runtime_error(message), status(status), error(std::move(error)) {}
  int status;
  std::string error;  // Supabase's short name: "Bucket not found", "Duplicate", "Unauthorized"
};

void send_error(alpaca::Response& res, const StorageError& e);

// What Postgres said, as Supabase Storage words it (RLS → 403 Unauthorized, unique → 409
// Duplicate, else 400/500).
StorageError from_sqlstate(const std::string& sqlstate, const std::string& message);

}  // namespace storage
