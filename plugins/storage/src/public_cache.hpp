#pragma once
// What /object/public serves, remembered for a moment (storage.public_cache_ttl_ms): a public
// object's row, so hot files cost no database round trip. A write through this host's storage
// routes bypasses the cache while it runs and forgets the project's entries when it ends; a write
// elsewhere (another host, SQL) shows within the TTL, and a replaced or deleted object's blob is
// gone at once, which sends the download back to the database. Public objects are meant to be
// cached (Supabase puts a CDN in front of them).
#include <chrono>
#include <cstdint>
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

  // A write request of the project starts / ends. While one runs, nothing is served from or put
  // into the cache (its answer may reach the client before end_write); when it ends, the
  // project's entries are gone.
  void begin_write(const std::string& ref);
  void end_write(const std::string& ref);

  std::optional<std::string> get(const std::string& ref, const std::string& bucket,
                                 const std::string& name);
  // Taken before the database read whose row put() stores: a write in between voids it.
  std::optional<uint64_t> ticket(const std::string& ref);
  void put(const std::string& ref, const std::string& bucket, const std::string& name,
           std::string row_json, std::optional<uint64_t> ticket);

 private:
  struct Entry {
    std::string row_json;
    std::chrono::steady_clock::time_point expires;
  };
  struct Project {
    uint64_t generation = 0;
    int writers = 0;
    std::map<std::string, Entry> entries;
  };
  static std::string key(const std::string& bucket, const std::string& name) {
    std::string k = bucket;
    k.push_back('\0');
    return k += name;
  }
  std::chrono::milliseconds ttl_;
  size_t max_entries_;
  std::mutex mu_;
  std::map<std::string, Project> projects_;
};

}  // namespace storage
