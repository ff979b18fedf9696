#include "service.hpp"

#include "blob/local_blob_store.hpp"
#include "bucket_spec.hpp"
#include "errors.hpp"
#include "schema_sql.hpp"

namespace storage {

Service::Service(alpaca::Host& host) : host_(host), migrator_("storage.alpaca_migrations", 2) {
  blob_dir_ = host.config("blob_dir", "");
  if (blob_dir_.empty()) blob_dir_ = host.data_dir() + "/storage";
  auto size = parse_size(host.config("max_file_size", "50MB"));
  if (!size || *size <= 0)
    throw std::invalid_argument("storage.max_file_size must be a size such as 50MB");
  max_file_size_ = *size;
}

BlobStore& Service::blobs(const std::string& ref) {
  std::lock_guard lock(blobs_mu_);
  auto& store = blobs_[ref];
  if (!store) store = std::make_unique<LocalBlobStore>(blob_dir_, ref);
  return *store;
}

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
