#include "db/data_dir_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace alpaca::db {
namespace {

[[noreturn]] void fail(const std::string& what, int err) {
  throw std::runtime_error(what + ": " + std::strerror(err));
}

// Reads the pid the holder wrote; "unknown" when unreadable or empty.
std::string read_holder_pid(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  std::string s = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return "unknown";
  return s;
}

}  // namespace

DataDirLock::DataDirLock(const std::string& data_dir) {
  namespace fs = std::filesystem;
  const fs::path dir(data_dir);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    if (!dir.parent_path().empty()) fs::create_directories(dir.parent_path(), ec);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      fail("cannot create data directory " + data_dir, errno);
    }
  }
  lock_path_ = (dir / "alpaca.lock").string();
  fd_ = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) fail("cannot open lock file " + lock_path_, errno);
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      std::string pid = read_holder_pid(fd_);
      ::close(fd_);
      fd_ = -1;
      throw std::runtime_error("another alpaca-server (pid " + pid +
                               ") is already using the data directory " + data_dir +
                               "; stop it or choose another ALPACA_DATA_DIR");
    }
    ::close(fd_);
    fd_ = -1;
    fail("cannot lock " + lock_path_, err);
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    fail("cannot write lock file " + lock_path_, err);
  }
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the only descriptor releases the flock
}

}  // namespace alpaca::db
