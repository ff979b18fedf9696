// Bounded pools of libpq connections: one Pool per database, a PoolSet of
// them keyed by database name with an idle reaper.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "db/pg.hpp"

namespace alpaca::db {

class Pool;

// A connection borrowed from a Pool. Move-only. On destruction the connection
// goes back to the pool if it is healthy; one left inside a transaction is
// rolled back first (a single ROLLBACK attempt); anything else is closed.
// A Lease must not outlive its Pool (PoolSet keeps its pools alive while the
// set lives, so leases from a PoolSet must end before the set does).
class Lease {
 public:
  Lease() = default;
  Lease(Lease&& other) noexcept;
  Lease& operator=(Lease&& other) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease();

  Connection& operator*() { return conn_; }
  Connection* operator->() { return &conn_; }
  explicit operator bool() const { return pool_ != nullptr; }

  // Closes the connection instead of returning it (e.g. after session state
  // such as SET ROLE was changed outside a transaction). The lease is empty
  // afterwards.
  void discard();

 private:
  friend class Pool;
  Lease(Pool* pool, Connection conn, uint64_t generation) noexcept
      : pool_(pool), conn_(std::move(conn)), generation_(generation) {}
  void give_back() noexcept;

  Pool* pool_ = nullptr;
  Connection conn_;
  uint64_t generation_ = 0;
};

class Pool {
 public:
  Pool(std::string conninfo, size_t max_size, std::chrono::milliseconds acquire_timeout);
  ~Pool();  // closes idle connections; all Leases must have ended
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Borrows a connection: the most recently returned idle one (LIFO), else a
  // new one while fewer than max_size are open, else waits up to
  // acquire_timeout for one to come back. Throws PgError "53300" ("connection
  // pool exhausted (N connections busy)") on timeout, PgError "08006" when a
  // new connection cannot be opened, PgError "08003" once the pool is closed.
  // Idle connections whose server side went away are dropped, not handed out.
  Lease acquire();

  // Closes idle connections that have not been used for `older_than`.
  void close_idle(std::chrono::seconds older_than);
  // Closes idle connections now and busy ones when their lease ends. The pool
  // stays closed: later acquire() calls throw PgError "08003".
  void close_all();

  size_t idle_count() const;
  size_t open_count() const;  // idle + busy (+ being opened)
  size_t max_size() const { return max_size_; }
  bool closed() const;

 private:
  friend class Lease;
  using Clock = std::chrono::steady_clock;
  struct Idle {
    Connection conn;
    Clock::time_point since;
  };

  void give_back(Connection conn, uint64_t generation) noexcept;
  void drop_slot() noexcept;

  const std::string conninfo_;
  const size_t max_size_;
  const std::chrono::milliseconds acquire_timeout_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Idle> idle_;  // back() is the most recently returned
  size_t open_ = 0;
  uint64_t generation_ = 0;  // bumped by close_all()
  bool closed_ = false;
};

// One Pool per database, created on first use. Thread-safe. References
// returned by get() stay valid for the life of the set: forget() closes a
// pool and retires it (it is kept, closed, so outstanding Leases and Pool&
// stay valid) and the next get() of that name builds a fresh one.
class PoolSet {
 public:
  PoolSet(std::function<std::string(const std::string& dbname)> conninfo_for, size_t max_per_db,
          std::chrono::milliseconds acquire_timeout, std::chrono::seconds idle_timeout);
  ~PoolSet();  // stop()
  PoolSet(const PoolSet&) = delete;
  PoolSet& operator=(const PoolSet&) = delete;

  Pool& get(const std::string& dbname);
  // Closes the database's connections (idle now, busy when returned) so that
  // DROP DATABASE / ALTER DATABASE ... RENAME can proceed.
  void forget(const std::string& dbname);
  // Stops the reaper and closes every pool. Idempotent. get() afterwards
  // throws PgError "08003".
  void stop();

 private:
  void reap_loop();

  const std::function<std::string(const std::string&)> conninfo_for_;
  const size_t max_per_db_;
  const std::chrono::milliseconds acquire_timeout_;
  const std::chrono::seconds idle_timeout_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::unique_ptr<Pool>> pools_;
  std::list<std::unique_ptr<Pool>> graveyard_;
  bool stopping_ = false;
  std::thread reaper_;
};

}  // namespace alpaca::db
