#pragma once
// Keeps the caches of several hosts sharing one PostgreSQL coherent: every change to a project
// or token is announced with NOTIFY alpaca_cache, and each host LISTENs and drops the entry.
// If the listening connection breaks, notifications may have been missed, so `on_reset` runs
// (drop everything) once it is back.
#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace alpaca {

class CacheListener {
 public:
  static constexpr const char* kChannel = "alpaca_cache";

  CacheListener(std::string conninfo, std::function<void(const std::string&)> on_message,
                std::function<void()> on_reset);
  ~CacheListener();  // stop()
  void start();
  void stop();

 private:
  void run();

  std::string conninfo_;
  std::function<void(const std::string&)> on_message_;
  std::function<void()> on_reset_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace alpaca
