#pragma once
// Tells plugins when a project database's schema may have changed, so they can cache what they
// derive from the catalog (primary keys, the REST schema) and still see DDL at once.
//
// Each project database asked about gets one connection (as the server's own database user)
// that LISTENs on `pgrst`, where the project's event triggers announce committed DDL. The
// version of a database changes on every such notification, on DDL this host reports itself
// (changed()), and whenever the watch is lost and regained. Version 0 means "not watched (yet,
// or the triggers could not be installed)": callers must not cache then.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace alpaca::db {

class Connection;

class SchemaWatch {
 public:
  // prepare: run once per new connection before LISTEN (installs the triggers); false when the
  // database cannot be watched.
  SchemaWatch(std::function<std::string(const std::string& dbname)> conninfo_for,
              std::function<bool(Connection&)> prepare);
  ~SchemaWatch();  // stop()
  void start();
  void stop();

  // Starts watching `dbname` on first ask (and answers 0 until the watch is up).
  uint64_t version(const std::string& dbname);
  void changed(const std::string& dbname);
  // Closes the watch on `dbname` now (before the database is dropped).
  void forget(const std::string& dbname);

 private:
  struct Watch;
  void run();
  void wake();
  void connect_pending();
  void poll_once();

  std::function<std::string(const std::string&)> conninfo_for_;
  std::function<bool(Connection&)> prepare_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Watch>> watches_;
  uint64_t next_version_ = 1;  // versions are unique across databases and never reused
  int wake_fds_[2] = {-1, -1};
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace alpaca::db
