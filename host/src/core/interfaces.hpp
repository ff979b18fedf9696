#pragma once
// Named, versioned function tables shared between plugins and the host (provide/get).
#include <alpaca/plugin.h>

#include <map>
#include <mutex>
#include <string>

namespace alpaca {

class Interfaces {
 public:
  // Returns the current provider's name when `name` is already provided.
  std::string provide(const std::string& name, uint32_t version, const void* table,
                      const std::string& provider);
  const void* get(const std::string& name, uint32_t min_version) const;
  void remove_provider(const std::string& provider);

 private:
  struct Entry {
    uint32_t version;
    const void* table;
    std::string provider;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

}  // namespace alpaca
