#include "rate_limit.hpp"

namespace auth {

bool RateLimiter::allow(const std::string& key, int limit, int window_s) {
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  std::lock_guard lock(mu_);
  if (now - last_sweep_ >= window_s) {  // forget windows that are over
    for (auto it = windows_.begin(); it != windows_.end();)
      it = now - it->second.start >= window_s ? windows_.erase(it) : std::next(it);
    last_sweep_ = now;
  }
  Window& w = windows_[key];
  if (w.hits == 0 || now - w.start >= window_s) {
    w.start = now;
    w.hits = 0;
  }
  if (w.hits >= limit) return false;
  ++w.hits;
  return true;
}

}  // namespace auth
