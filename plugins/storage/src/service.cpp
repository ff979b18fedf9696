#include "service.hpp"

#include <Poco/JSON/Parser.h>
#include <openssl/rand.h>

#include <filesystem>
#include <project_tx.hpp>
#include <set>

#include "blob/local_blob_store.hpp"
#include "bucket_spec.hpp"
#include "errors.hpp"
#include "json_body.hpp"
#include "schema_sql.hpp"

namespace storage {

namespace {

int64_t whole_number(alpaca::Host& host, const char* key, const char* fallback) {
  std::string v = host.config(key, fallback);
  try {
    size_t used = 0;
    long long n = std::stoll(v, &used);
    if (used == v.size() && n >= 0) return n;
  } catch (const std::exception&) {
  }
  throw std::invalid_argument(std::string("storage.") + key + " must be a whole number >= 0");
}

bool looks_like_ref(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  return true;
}

}  // namespace

Service::Service(alpaca::Host& host) : host_(host), migrator_("storage.alpaca_migrations", 2) {
  blob_dir_ = host.config("blob_dir", "");
  if (blob_dir_.empty()) blob_dir_ = host.data_dir() + "/storage";
  auto size = parse_size(host.config("max_file_size", "50MB"));
  if (!size || *size <= 0)
    throw std::invalid_argument("storage.max_file_size must be a size such as 50MB");
  max_file_size_ = *size;
  upload_rate_limit_ = static_cast<int>(whole_number(host, "upload_rate_limit", "100"));
  sweep_interval_ = std::chrono::seconds(whole_number(host, "sweep_interval", "3600"));
  sweep_min_age_ = std::chrono::seconds(whole_number(host, "sweep_min_age", "3600"));
  public_cache_ = std::make_unique<PublicCache>(
      std::chrono::milliseconds(whole_number(host, "public_cache_ttl_ms", "1000")));
}

Service::~Service() {
  stop_sweeper();
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

void Service::count_upload(const std::string& ref) {
  if (upload_rate_limit_ == 0) return;
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(uploads_mu_);
  auto& times = uploads_[ref];
  while (!times.empty() && now - times.front() >= std::chrono::minutes(1)) times.pop_front();
  if (static_cast<int>(times.size()) >= upload_rate_limit_)
    throw StorageError(429, "too_many_requests",
                       "Too many uploads: this project may upload " +
                           std::to_string(upload_rate_limit_) +
                           " objects per minute (storage.upload_rate_limit); retry later");
  times.push_back(now);
}

std::string Service::signing_key(const std::string& ref) {
  {
    std::lock_guard lock(keys_mu_);
    if (auto it = keys_.find(ref); it != keys_.end()) return it->second;
  }
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) throw StorageError(500, "InternalError", "No randomness");
  static const char* hex = "0123456789abcdef";
  std::string fresh;
  for (unsigned char b : raw) {
    fresh.push_back(hex[b >> 4]);
    fresh.push_back(hex[b & 15]);
  }
  plugin_common::Tx tx(db_, ref);
  tx.exec(
      "INSERT INTO storage.alpaca_keys (name, secret) VALUES ('url_signing', $1) "
      "ON CONFLICT (name) DO NOTHING",
      {fresh});
  auto key = tx.value("SELECT secret FROM storage.alpaca_keys WHERE name = 'url_signing'");
  tx.commit();
  if (!key) throw StorageError(500, "InternalError", "No URL-signing key");
  std::lock_guard lock(keys_mu_);
  return keys_[ref] = *key;
}

size_t Service::sweep_all() {
  if (!db_) return 0;
  std::error_code ec;
  std::vector<std::string> refs;
  for (const auto& e : std::filesystem::directory_iterator(blob_dir_, ec)) {
    std::string name = e.path().filename().string();
    if (name != "tmp" && e.is_directory(ec) && looks_like_ref(name)) refs.push_back(name);
  }
  size_t removed = 0;
  for (const auto& ref : refs) {
    try {
      ensure_schema(ref);
      plugin_common::Tx tx(db_, ref);
      auto versions = tx.value(
          "SELECT coalesce(json_agg(version), '[]')::text FROM storage.objects "
          "WHERE version IS NOT NULL");
      tx.commit();
      Poco::JSON::Parser p;
      std::set<std::string> live;
      for (const auto& v : *p.parse(versions.value_or("[]")).extract<Poco::JSON::Array::Ptr>())
        live.insert(v.convert<std::string>());
      SweepResult r = blobs(ref).sweep_orphans(
          [&live](const std::string& key) { return live.count(key) > 0; }, sweep_min_age_);
      removed += r.blobs_removed + r.temps_removed;
      if (r.blobs_removed || r.temps_removed)
        host_.info("storage: swept project " + ref + ": " + std::to_string(r.blobs_removed) +
                   " orphan blobs, " + std::to_string(r.temps_removed) + " temp files removed, " +
                   std::to_string(r.blobs_kept) + " blobs kept");
    } catch (const std::exception& e) {
      // A project without a database (deleted, unreachable) keeps its files: never guess.
      host_.warn("storage: sweep of project " + ref + " skipped: " + e.what());
    }
  }
  return removed;
}

void Service::start_sweeper() {
  std::lock_guard lock(sweeper_mu_);
  if (sweeper_.joinable()) return;
  sweeper_stop_ = false;
  sweeper_ = std::thread([this] {
    std::unique_lock lock(sweeper_mu_);
    for (;;) {
      lock.unlock();
      try {
        sweep_all();
      } catch (const std::exception& e) {
        host_.warn(std::string("storage: sweep failed: ") + e.what());
      }
      lock.lock();
      if (sweep_interval_.count() == 0) {
        sweeper_cv_.wait(lock, [this] { return sweeper_stop_; });
      } else {
        sweeper_cv_.wait_for(lock, sweep_interval_, [this] { return sweeper_stop_; });
      }
      if (sweeper_stop_) return;
    }
  });
}

void Service::stop_sweeper() {
  {
    std::lock_guard lock(sweeper_mu_);
    sweeper_stop_ = true;
  }
  sweeper_cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
}

}  // namespace storage
