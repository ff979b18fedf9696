#include "errors.hpp"

namespace storage {

void send_error(alpaca::Response& res, const StorageError& e) {
  using alpaca::json_escape;
  std::string msg = json_escape(e.what());
  res.json(e.status, "{\"statusCode\":\"" + std::to_string(e.status) + "\",\"error\":\"" +
                         json_escape(e.error) + "\",\"message\":\"" + msg + "\",\"detail\":\"" +
                         msg + "\"}");
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
