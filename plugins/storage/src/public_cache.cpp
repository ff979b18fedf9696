#include "public_cache.hpp"

namespace storage {

void PublicCache::begin_write(const std::string& ref) {
  if (!enabled()) return;
  std::lock_guard lock(mu_);
  ++projects_[ref].writers;
}

void PublicCache::end_write(const std::string& ref) {
  if (!enabled()) return;
  std::lock_guard lock(mu_);
  Project& p = projects_[ref];
  --p.writers;
  ++p.generation;
  p.entries.clear();
}

std::optional<std::string> PublicCache::get(const std::string& ref, const std::string& bucket,
                                            const std::string& name) {
  if (!enabled()) return std::nullopt;
  std::lock_guard lock(mu_);
  auto p = projects_.find(ref);
  if (p == projects_.end() || p->second.writers > 0) return std::nullopt;
  auto e = p->second.entries.find(key(bucket, name));
  if (e == p->second.entries.end()) return std::nullopt;
  if (e->second.expires <= std::chrono::steady_clock::now()) {
    p->second.entries.erase(e);
    return std::nullopt;
  }
  return e->second.row_json;
}

std::optional<uint64_t> PublicCache::ticket(const std::string& ref) {
  if (!enabled()) return std::nullopt;
  std::lock_guard lock(mu_);
  Project& p = projects_[ref];
  if (p.writers > 0) return std::nullopt;
  return p.generation;
}

void PublicCache::put(const std::string& ref, const std::string& bucket, const std::string& name,
                      std::string row_json, std::optional<uint64_t> ticket) {
  if (!enabled() || !ticket) return;
  std::lock_guard lock(mu_);
  Project& p = projects_[ref];
  if (p.writers > 0 || p.generation != *ticket) return;
  if (p.entries.size() >= max_entries_) p.entries.clear();  // bounded; refilled by what is hot
  p.entries[key(bucket, name)] =
      Entry{std::move(row_json), std::chrono::steady_clock::now() + ttl_};
}

}  // namespace storage
