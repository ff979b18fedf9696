#include "public_cache.hpp"

namespace storage {

std::optional<std::string> PublicCache::get(const std::string& ref, const std::string& bucket,
                                            const std::string& name) {
  if (!enabled()) return std::nullopt;
  std::lock_guard lock(mu_);
  auto p = by_project_.find(ref);
  if (p == by_project_.end()) return std::nullopt;
  auto e = p->second.find(key(bucket, name));
  if (e == p->second.end()) return std::nullopt;
  if (e->second.expires <= std::chrono::steady_clock::now()) {
    p->second.erase(e);
    return std::nullopt;
  }
  return e->second.row_json;
}

void PublicCache::put(const std::string& ref, const std::string& bucket, const std::string& name,
                      std::string row_json) {
  if (!enabled()) return;
  std::lock_guard lock(mu_);
  auto& entries = by_project_[ref];
  if (entries.size() >= max_entries_) entries.clear();  // bounded; refilled by what is hot
  entries[key(bucket, name)] = Entry{std::move(row_json), std::chrono::steady_clock::now() + ttl_};
}

void PublicCache::forget(const std::string& ref) {
  if (!enabled()) return;
  std::lock_guard lock(mu_);
  by_project_.erase(ref);
}

}  // namespace storage
