#include "db/schema_watch.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "db/pg.hpp"

namespace alpaca::db {

using Clock = std::chrono::steady_clock;

struct SchemaWatch::Watch {
  Connection conn;  // empty until connected and listening
  bool connecting = false;
  bool unwatchable = false;  // the triggers are missing and cannot be installed
  uint64_t version = 0;
  Clock::time_point retry_at{};
};

SchemaWatch::SchemaWatch(std::function<std::string(const std::string&)> conninfo_for,
                         std::function<bool(Connection&)> prepare)
    : conninfo_for_(std::move(conninfo_for)), prepare_(std::move(prepare)) {
  if (::pipe2(wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0)
    throw std::runtime_error("schema watch: cannot create a pipe");
}

SchemaWatch::~SchemaWatch() {
  stop();
  for (int fd : wake_fds_)
    if (fd >= 0) ::close(fd);
}

void SchemaWatch::start() {
  thread_ = std::thread([this] { run(); });
}

void SchemaWatch::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  watches_.clear();
}

void SchemaWatch::wake() {
  char b = 1;
  [[maybe_unused]] auto n = ::write(wake_fds_[1], &b, 1);  // a full pipe is awake already
}

uint64_t SchemaWatch::version(const std::string& dbname) {
  std::lock_guard lock(mutex_);
  auto it = watches_.find(dbname);
  if (it == watches_.end()) {
    if (stopping_) return 0;
    watches_.emplace(dbname, std::make_unique<Watch>());
    wake();
    return 0;
  }
  return it->second->conn.raw() ? it->second->version : 0;
}

void SchemaWatch::changed(const std::string& dbname) {
  std::lock_guard lock(mutex_);
  auto it = watches_.find(dbname);
  if (it != watches_.end() && it->second->conn.raw()) it->second->version = next_version_++;
}

void SchemaWatch::forget(const std::string& dbname) {
  std::lock_guard lock(mutex_);
  watches_.erase(dbname);  // closes the connection
}

void SchemaWatch::run() {
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    connect_pending();
    poll_once();
  }
}

void SchemaWatch::connect_pending() {
  std::vector<std::string> pending;
  {
    std::lock_guard lock(mutex_);
    auto now = Clock::now();
    for (auto& [name, w] : watches_) {
      if (w->conn.raw() || w->connecting || w->unwatchable || now < w->retry_at) continue;
      w->connecting = true;
      pending.push_back(name);
    }
  }
  for (const auto& name : pending) {
    Connection conn;
    bool watchable = true;
    std::string error;
    try {
      conn = Connection::open(conninfo_for_(name));
      watchable = prepare_(conn);
      if (watchable) conn.exec(std::string("LISTEN ") + "pgrst");
    } catch (const std::exception& e) {
      error = e.what();
    }
    std::lock_guard lock(mutex_);
    auto it = watches_.find(name);
    if (it == watches_.end()) continue;  // forgotten meanwhile: conn closes here
    Watch& w = *it->second;
    w.connecting = false;
    if (!error.empty() && error.find("does not exist") != std::string::npos) {
      watches_.erase(it);  // dropped (a project deleted while a request asked about it)
    } else if (!error.empty()) {
      spdlog::warn("schema watch on database {}: {}; retrying in 2 s", name, error);
      w.retry_at = Clock::now() + std::chrono::seconds(2);
    } else if (!watchable) {
      spdlog::warn(
          "schema watch on database {}: its DDL event triggers are missing and the server's "
          "database user is not a superuser, so they cannot be installed; schema caches of this "
          "project are disabled (slower, still correct)",
          name);
      w.unwatchable = true;
    } else {
      w.conn = std::move(conn);
      w.version = next_version_++;  // anything may have changed while nobody listened
    }
  }
}

void SchemaWatch::poll_once() {
  std::vector<pollfd> fds{{wake_fds_[0], POLLIN, 0}};
  std::vector<std::pair<std::string, PGconn*>> polled;
  bool retry_due = false;
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, w] : watches_) {
      if (PGconn* c = w->conn.raw()) {
        fds.push_back({PQsocket(c), POLLIN, 0});
        polled.emplace_back(name, c);
      } else if (!w->unwatchable && !w->connecting) {
        retry_due = true;
      }
    }
  }
  ::poll(fds.data(), fds.size(), retry_due ? 500 : 5000);
  char buf[64];
  while (::read(wake_fds_[0], buf, sizeof buf) > 0) {
  }
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < polled.size(); ++i) {
    if (!fds[i + 1].revents) continue;
    auto it = watches_.find(polled[i].first);
    // Forgotten (or reconnected) while we polled: the descriptor is not ours any more.
    if (it == watches_.end() || it->second->conn.raw() != polled[i].second) continue;
    Watch& w = *it->second;
    PGconn* c = w.conn.raw();
    bool alive = PQconsumeInput(c) && PQstatus(c) == CONNECTION_OK;
    bool notified = false;
    while (PGnotify* note = PQnotifies(c)) {
      notified = true;
      PQfreemem(note);
    }
    if (notified) w.version = next_version_++;
    if (!alive) {
      spdlog::warn("schema watch on database {}: connection lost; reconnecting", it->first);
      w.conn = Connection();
      w.retry_at = Clock::now() + std::chrono::seconds(1);
    }
  }
}

}  // namespace alpaca::db
