// Shared helpers for the db tests: one embedded PostgreSQL cluster per test
// binary run, started on first use and stopped (and its directory removed)
// by a gtest Environment at the end.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "db/embedded_postgres.hpp"

namespace alpaca::db::testing {

// A fresh directory under $TMPDIR (or /tmp), removed on destruction.
class TempDir {
 public:
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/alpaca-db-test-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Small settings: test binaries may run many clusters in parallel (ctest -j).
inline EmbeddedPostgres::Options test_cluster_options(const std::string& data_dir) {
  EmbeddedPostgres::Options o;
  o.data_dir = data_dir;
  o.settings = {{"shared_buffers", "16MB"}, {"max_connections", "50"}, {"fsync", "off"}};
  return o;
}

// Pids of live processes whose working directory is `dir` or below it: every
// PostgreSQL server process chdirs into its data directory.
inline std::vector<pid_t> processes_in_dir(const std::string& dir) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ec2;
    const auto cwd = std::filesystem::read_symlink(e.path() / "cwd", ec2).string();
    if (!ec2 && (cwd == dir || cwd.rfind(dir + "/", 0) == 0)) out.push_back(std::stoi(name));
  }
  return out;
}

// Polls `pred` every 20 ms until it holds or `timeout` passes.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

class SharedCluster : public ::testing::Environment {
 public:
  // Starts the cluster the first time; rethrows the first failure afterwards.
  static EmbeddedPostgres& get() {
    auto& s = state();
    std::lock_guard lk(s.mu);
    if (s.error) std::rethrow_exception(s.error);
    if (!s.pg) {
      try {
        s.dir = std::make_unique<TempDir>();
        auto pg = std::make_unique<EmbeddedPostgres>(test_cluster_options(s.dir->path()));
        pg->start();
        s.pg = std::move(pg);
      } catch (...) {
        s.error = std::current_exception();
        throw;
      }
    }
    return *s.pg;
  }

  void TearDown() override {
    auto& s = state();
    std::lock_guard lk(s.mu);
    s.pg.reset();  // stop()
    s.dir.reset();
  }

 private:
  struct State {
    std::mutex mu;
    std::unique_ptr<TempDir> dir;
    std::unique_ptr<EmbeddedPostgres> pg;
    std::exception_ptr error;
  };
  static State& state() {
    static State s;
    return s;
  }
};

inline ::testing::Environment* const shared_cluster_env =
    ::testing::AddGlobalTestEnvironment(new SharedCluster);

// Base fixture: fails the test (instead of crashing the binary) when the
// shared cluster cannot start.
class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      pg_ = &SharedCluster::get();
    } catch (const std::exception& e) {
      GTEST_FAIL() << "embedded PostgreSQL did not start: " << e.what();
    }
  }
  std::string conninfo(const std::string& db = "postgres") const { return pg_->conninfo(db); }

  EmbeddedPostgres* pg_ = nullptr;
};

}  // namespace alpaca::db::testing
