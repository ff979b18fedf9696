#pragma once
// Configuration: a Java-style properties file, overridden by environment variables.
// Key `a.b_c` is overridden by env `ALPACA_A_B_C`. Some keys have historical env names
// (ALPACA_HTTP_PORT, ALPACA_DATABASE_URL...) which follow the same rule.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace alpaca {

class Config {
 public:
  // Loads `path` when non-empty (throws if it cannot be read). The environment is read lazily.
  explicit Config(const std::string& path = {});
  Config(Config&& other) noexcept
      : path_(std::move(other.path_)),
        values_(std::move(other.values_)),
        interned_(std::move(other.interned_)) {}

  // The value of `key`: env override first, then the file, else nullopt.
  std::optional<std::string> find(const std::string& key) const;
  std::string get(const std::string& key, const std::string& fallback) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;  // throws on non-numbers
  bool get_bool(const std::string& key, bool fallback) const;
  // Sets a value in memory (tests, command line).
  void set(const std::string& key, const std::string& value);

  // Interns a string so it outlives every caller (for the plugin ABI's config_get).
  const char* intern(const std::string& value) const;

  static std::string env_name(const std::string& key);  // "http.port" -> "ALPACA_HTTP_PORT"
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::map<std::string, std::string> values_;
  mutable std::mutex intern_mutex_;
  mutable std::map<std::string, std::string> interned_;
};

}  // namespace alpaca
