#pragma once
// What the storage routes share: the database interface and the per-project schema.
#include <alpaca/plugin.hpp>
#include <map>
#include <memory>
#include <migrator.hpp>
#include <mutex>

#include "blob/blob_store.hpp"

namespace storage {

class Service {
 public:
  explicit Service(alpaca::Host& host);
  void set_db(const alpaca_db_api* db) { db_ = db; }
  const alpaca_db_api* db() const { return db_; }
  alpaca::Host& host() { return host_; }
  // Lays out storage.buckets / storage.objects in the project's database (once per host).
  void ensure_schema(const std::string& ref);
  // The project's blob store (storage.blob_dir, default <data_dir>/storage).
  BlobStore& blobs(const std::string& ref);
  // Largest object accepted by any bucket (storage.max_file_size, default 50 MiB).
  int64_t max_file_size() const { return max_file_size_; }

 private:
  alpaca::Host& host_;
  const alpaca_db_api* db_ = nullptr;
  plugin_common::Migrator migrator_;
  std::string blob_dir_;
  int64_t max_file_size_;
  std::mutex blobs_mu_;
  std::map<std::string, std::unique_ptr<BlobStore>> blobs_;
};

}  // namespace storage
