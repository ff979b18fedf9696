#pragma once
// Fixed-window counters in memory, per key (project, route, IP or email). One host's view: behind
// a load balancer each host counts its own share.
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace auth {

class RateLimiter {
 public:
  // Counts one hit; false when `key` already had `limit` hits in the current window.
  bool allow(const std::string& key, int limit, int window_s);

 private:
  struct Window {
    int64_t start = 0;
    int hits = 0;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Window> windows_;
  int64_t last_sweep_ = 0;
};

}  // namespace auth
