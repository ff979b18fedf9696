#pragma once
// What a plugin learned from a project's catalog, kept under the schema version it was read at
// (alpaca.db schema_version): an entry read at another version is stale and never returned.
// Version 0 means "not watched": nothing is cached then.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace database {

class CatalogCache {
 public:
  explicit CatalogCache(size_t max_entries = 4096) : max_entries_(max_entries) {}

  std::optional<std::string> get(const std::string& key, uint64_t version) {
    if (version == 0) return std::nullopt;
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.version != version) return std::nullopt;
    return it->second.value;
  }

  // `version` must have been read before the catalog was: a change in between then leaves the
  // entry stale rather than wrong.
  void put(const std::string& key, uint64_t version, std::string value) {
    if (version == 0) return;
    std::lock_guard lock(mutex_);
    if (entries_.size() >= max_entries_ && !entries_.count(key)) entries_.clear();  // crude bound
    entries_[key] = Entry{version, std::move(value)};
  }

 private:
  struct Entry {
    uint64_t version;
    std::string value;
  };
  size_t max_entries_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace database
