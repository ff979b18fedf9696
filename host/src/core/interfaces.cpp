#include "core/interfaces.hpp"

namespace alpaca {

std::string Interfaces::provide(const std::string& name, uint32_t version, const void* table,
                                const std::string& provider) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = entries_.try_emplace(name, Entry{version, table, provider});
  return inserted ? std::string() : it->second.provider;
}

const void* Interfaces::get(const std::string& name, uint32_t min_version) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(name);
  if (it == entries_.end() || it->second.version < min_version) return nullptr;
  return it->second.table;
}

void Interfaces::remove_provider(const std::string& provider) {
  std::lock_guard lock(mutex_);
  std::erase_if(entries_, [&](const auto& kv) { return kv.second.provider == provider; });
}

}  // namespace alpaca
