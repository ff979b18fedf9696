#pragma once
// What /object/public serves, remembered for a moment (storage.public_cache_ttl_ms): a public
// object's row, so hot files cost no database round trip. Any write through this host's storage
// routes forgets the project's entries; a write elsewhere (another host, SQL) shows within the
// TTL, and a replaced or deleted object's blob is gone at once, which sends the download back to
// the database. Public objects are meant to be cached (Supabase puts a CDN in front of them).
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace storage {

class PublicCache {
 public:
  explicit PublicCache(std::chrono::milliseconds ttl, size_t max_entries = 10000)
      : ttl_(ttl), max_entries_(max_entries) {}
  bool enabled() const { return ttl_.count() > 0; }
  std::optional<std::string> get(const std::string& ref, const std::string& bucket,
                                 const std::string& name);
  void put(const std::string& ref, const std::string& bucket, const std::string& name,
           std::string row_json);
  void forget(const std::string& ref);

 private:
  struct Entry {
    std::string row_json;
    std::chrono::steady_clock::time_point expires;
  };
  static std::string key(const std::string& bucket, const std::string& name) {
    std::string k = bucket;
    k.push_back('\0');
    return k += name;
  }
  std::chrono::milliseconds ttl_;
  size_t max_entries_;
  std::mutex mu_;
  std::map<std::string, std::map<std::string, Entry>> by_project_;
};

}  // namespace storage
