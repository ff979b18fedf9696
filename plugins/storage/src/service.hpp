#pragma once
// What the storage routes share: the database interface, the per-project schema, blob stores,
// limits, the URL-signing keys and the orphan sweeper.
#include <alpaca/plugin.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <migrator.hpp>
#include <mutex>
#include <thread>

#include "blob/blob_store.hpp"
#include "public_cache.hpp"

namespace storage {

class Service {
 public:
  explicit Service(alpaca::Host& host);
  ~Service();
  void set_db(const alpaca_db_api* db) { db_ = db; }
  const alpaca_db_api* db() const { return db_; }
  alpaca::Host& host() { return host_; }
  // Lays out storage.buckets / storage.objects in the project's database (once per host).
  void ensure_schema(const std::string& ref);
  // The project's blob store (storage.blob_dir, default <data_dir>/storage).
  BlobStore& blobs(const std::string& ref);
  // Largest object accepted by any bucket (storage.max_file_size, default 50 MiB).
  int64_t max_file_size() const { return max_file_size_; }
  // Rows of public objects, kept storage.public_cache_ttl_ms (default 1000; 0 = off).
  PublicCache& public_cache() { return *public_cache_; }
  // Counts an upload against storage.upload_rate_limit (per project per minute): 429 over it.
  void count_upload(const std::string& ref);
  // The project's secret for signed URLs (made on first use, kept in storage.alpaca_keys).
  std::string signing_key(const std::string& ref);

  // The orphan sweeper: once at start, then every storage.sweep_interval seconds.
  void start_sweeper();
  void stop_sweeper();
  // Sweeps every project's blobs now; returns the blobs and temp files removed.
  size_t sweep_all();

 private:
  alpaca::Host& host_;
  const alpaca_db_api* db_ = nullptr;
  plugin_common::Migrator migrator_;
  std::string blob_dir_;
  int64_t max_file_size_;
  int upload_rate_limit_;
  std::chrono::seconds sweep_interval_, sweep_min_age_;
  std::unique_ptr<PublicCache> public_cache_;

  std::mutex blobs_mu_;
  std::map<std::string, std::unique_ptr<BlobStore>> blobs_;
  std::mutex uploads_mu_;
  std::map<std::string, std::deque<std::chrono::steady_clock::time_point>> uploads_;
  std::mutex keys_mu_;
  std::map<std::string, std::string> keys_;

  std::mutex sweeper_mu_;
  std::condition_variable sweeper_cv_;
  bool sweeper_stop_ = false;
  std::thread sweeper_;
};

}  // namespace storage
