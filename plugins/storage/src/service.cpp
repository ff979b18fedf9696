#include "service.hpp"

#include "errors.hpp"
#include "schema_sql.hpp"

namespace storage {

void Service::ensure_schema(const std::string& ref) {
  if (!db_) throw StorageError(503, "ServiceUnavailable", "The storage service is starting");
  try {
    migrator_.ensure(db_, ref, kMigrations,
                     [this](const std::string& line) { host_.info("storage: " + line); });
  } catch (const plugin_common::DbError& e) {
    throw StorageError(500, "DatabaseError", std::string("storage schema: ") + e.what());
  }
}

}  // namespace storage
