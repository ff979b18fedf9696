// A private PostgreSQL cluster under the data directory, run as a supervised
// child process that listens on a unix socket (and on TCP only if asked).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace alpaca::db {

class EmbeddedPostgres {
 public:
  struct Options {
    std::string data_dir;          // cluster in <data_dir>/postgres, socket in <data_dir>/run
    std::string bin_dir;           // "" = auto-detect (see detect_bin_dir)
    std::string os_user;           // used only when running as root; "" = "alpaca", else "postgres"
    int port = 5432;               // also names the unix socket (.s.PGSQL.<port>)
    std::string listen_addresses;  // "" = no TCP
    std::map<std::string, std::string> settings;  // extra -c key=value (override defaults)
    std::chrono::milliseconds start_timeout{30000};
  };

  explicit EmbeddedPostgres(Options options);
  ~EmbeddedPostgres();  // stop()
  EmbeddedPostgres(const EmbeddedPostgres&) = delete;
  EmbeddedPostgres& operator=(const EmbeddedPostgres&) = delete;

  // Creates the cluster on first use (initdb), starts the postmaster, waits
  // until it accepts connections and starts supervising it (restart with
  // backoff when it dies unexpectedly). Throws std::runtime_error with the
  // tail of initdb's output or of postgres.log on failure. No-op when already
  // started.
  void start();
  // Fast shutdown (SIGINT), then SIGQUIT after 30 s, then SIGKILL; stops the
  // supervisor. Idempotent. start() and stop() are serialized: a stop() from
  // another thread waits for a start() in progress to finish.
  void stop();

  // host=<socket dir> port=<port> user=postgres dbname=<dbname>
  std::string conninfo(const std::string& dbname) const;
  // True while the postmaster is up and was seen accepting connections.
  bool ready() const { return ready_.load(); }
  // The postmaster's pid, 0 while none runs.
  pid_t pid() const { return pid_.load(); }

  const std::string& bin_dir() const { return bin_dir_; }  // resolved by start()
  std::string cluster_dir() const;                         // <data_dir>/postgres
  std::string socket_dir() const;                          // <data_dir>/run
  std::string log_path() const;                            // <data_dir>/postgres.log

  // The highest /usr/lib/postgresql/<N>/bin holding initdb, else
  // `pg_config --bindir`, else the directory of initdb on PATH. Throws
  // std::runtime_error naming the places searched.
  static std::string detect_bin_dir();

 private:
  struct RunAs {
    bool switch_user = false;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string name;
    std::vector<gid_t> groups;
  };
  enum class Outcome { kReady, kExited, kTimedOut, kStopping };

  void prepare_directories();
  void init_cluster_if_needed();
  void stop_leftover_postmaster();
  void rotate_log();
  pid_t spawn_postmaster(std::string* error);
  Outcome wait_until_ready(pid_t pid);
  void supervise();
  void reap(pid_t pid, int* status);
  bool sleep_unless_stopping(std::chrono::milliseconds d);
  std::string log_tail_since(long offset) const;

  Options opt_;
  std::string bin_dir_;
  RunAs run_as_;

  std::mutex lifecycle_mu_;  // serializes start() and stop()
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool first_start_done_ = false;  // the first spawn's outcome is known
  std::string first_start_error_;  // empty when it succeeded
  long log_offset_ = 0;            // postgres.log size when the current child started
  std::thread supervisor_;
  std::atomic<bool> ready_{false};
  std::atomic<pid_t> pid_{0};
};

}  // namespace alpaca::db
