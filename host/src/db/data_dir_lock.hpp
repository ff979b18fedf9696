// Exclusive ownership of a data directory by one alpaca-server process.
#pragma once

#include <string>

namespace alpaca::db {

// Creates `data_dir` if missing (mode 0700; an existing directory keeps its
// mode), then takes a non-blocking flock() on <data_dir>/alpaca.lock and
// writes our pid into it. Throws std::runtime_error naming the holder's pid
// when another process (or another DataDirLock in this one) holds it. The lock
// is released when the object is destroyed (or the process dies). The lock
// file descriptor is close-on-exec.
class DataDirLock {
 public:
  explicit DataDirLock(const std::string& data_dir);
  ~DataDirLock();
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

  const std::string& path() const { return lock_path_; }

 private:
  std::string lock_path_;
  int fd_ = -1;
};

}  // namespace alpaca::db
