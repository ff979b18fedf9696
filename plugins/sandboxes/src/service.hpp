// The sandboxes of this server: records (kept on disk so ended ones can still be reported),
// owners, quotas, exec rate limits, TTL expiry, a pool of booted boxes, and the driver.
#pragma once

#include <alpaca/plugin.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "isolation/driver.hpp"
#include "settings.hpp"

namespace sandboxes {

struct Record {
  std::string id, owner, runtime, label, status, error;
  int64_t created_ms = 0, expires_ms = 0, ended_ms = 0;
};

class Service {
 public:
  Service(alpaca::Host& host, Settings settings);
  ~Service();

  void start();  // driver, leftovers of the last run, records, reaper, pool
  void stop();   // every box destroyed

  const Settings& settings() const { return settings_; }
  // Throws alpaca::HttpError (429 quota, 503 unavailable).
  Record create(const std::string& owner, const std::string& runtime, const std::string& label);
  std::vector<Record> list(const std::string& owner);
  Record get(const std::string& owner, const std::string& id);  // 404
  Record remove(const std::string& owner, const std::string& id);
  // Runs in the owner's running sandbox (409 when not running, 429 over the rate).
  ExecResult exec(const std::string& owner, const std::string& id, const ExecSpec& spec);
  std::string read_file(const std::string& owner, const std::string& id, const std::string& path);
  void write_file(const std::string& owner, const std::string& id, const std::string& path,
                  const std::string& data);
  std::string record_json(const Record& r) const;

  // For alpaca.isolation: boxes with no owner, no record, no TTL; the caller destroys them.
  std::unique_ptr<Box> start_box(const BoxSpec& spec);

 private:
  struct Entry {
    Record rec;
    std::shared_ptr<Box> box;  // while creating/running
    std::deque<std::chrono::steady_clock::time_point> execs;
  };
  Entry& owned(const std::string& owner, const std::string& id);
  std::shared_ptr<Box> running_box(const std::string& owner, const std::string& id);
  void boot(std::string id);
  void end(Entry& e, const std::string& status, const std::string& error = {});
  void save(const Record& r);
  void load_records();
  void reaper_loop();
  void fill_pool();
  BoxSpec default_spec(const std::string& id) const;
  std::string records_dir() const;

  alpaca::Host& host_;
  Settings settings_;
  std::unique_ptr<Driver> driver_;
  std::string unavailable_;  // why sandboxes cannot run here ("" = they can)

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;
  std::deque<std::unique_ptr<Box>> pool_;
  std::map<const Box*, std::string> pooled_ids_;  // a pooled box's id becomes its sandbox's
  int pool_boots_ = 0;
  int booting_ = 0;  // boots in flight (pool refills included)
  bool stopping_ = false;
  std::thread reaper_;
};

int64_t now_ms();
std::string iso_time(int64_t ms);

}  // namespace sandboxes
