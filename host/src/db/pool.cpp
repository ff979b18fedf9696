#include "db/pool.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace alpaca::db {
namespace {

// An idle pooled connection has nothing to say: any pending input means the
// server sent something on its own — almost always a FATAL before closing it
// (pg_terminate_backend, idle_session_timeout, server shutdown), else a
// NOTIFY/NOTICE. Either way the connection is not worth handing out.
bool idle_connection_alive(Connection& conn) {
  PGconn* pc = conn.raw();
  if (!pc || PQstatus(pc) != CONNECTION_OK || PQtransactionStatus(pc) != PQTRANS_IDLE) {
    return false;
  }
  int fd = PQsocket(pc);
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  int n = ::poll(&p, 1, 0);
  return n == 0;
}

}  // namespace

// ---------------------------------------------------------------- Lease

Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      conn_(std::move(other.conn_)),
      generation_(other.generation_) {}

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    give_back();
    pool_ = std::exchange(other.pool_, nullptr);
    conn_ = std::move(other.conn_);
    generation_ = other.generation_;
  }
  return *this;
}

Lease::~Lease() {
  give_back();
}

void Lease::give_back() noexcept {
  if (!pool_) return;
  Pool* pool = std::exchange(pool_, nullptr);
  pool->give_back(std::move(conn_), generation_);
}

void Lease::discard() {
  if (!pool_) return;
  Pool* pool = std::exchange(pool_, nullptr);
  conn_ = Connection();
  pool->drop_slot();
}

// ---------------------------------------------------------------- Pool

Pool::Pool(std::string conninfo, size_t max_size, std::chrono::milliseconds acquire_timeout)
    : conninfo_(std::move(conninfo)),
      max_size_(std::max<size_t>(max_size, 1)),
      acquire_timeout_(acquire_timeout) {}

Pool::~Pool() {
  std::lock_guard lk(mu_);
  if (open_ > idle_.size()) {
    spdlog::error("db pool destroyed with {} connection(s) still leased", open_ - idle_.size());
  }
  idle_.clear();
}

Lease Pool::acquire() {
  const auto deadline = Clock::now() + acquire_timeout_;
  std::unique_lock lk(mu_);
  for (;;) {
    if (closed_) throw PgError("connection pool is closed", "08003");
    if (!idle_.empty()) {
      Connection conn = std::move(idle_.back().conn);
      idle_.pop_back();
      const uint64_t gen = generation_;
      lk.unlock();
      if (idle_connection_alive(conn)) return Lease(this, std::move(conn), gen);
      spdlog::debug("db pool: dropping a dead idle connection");
      conn = Connection();  // close outside the lock
      lk.lock();
      --open_;  // the slot is ours to reuse on the next iteration
      continue;
    }
    if (open_ < max_size_) {
      ++open_;
      const uint64_t gen = generation_;
      lk.unlock();
      try {
        return Lease(this, Connection::open(conninfo_), gen);
      } catch (...) {
        drop_slot();
        throw;
      }
    }
    const bool woke = cv_.wait_until(
        lk, deadline, [&] { return closed_ || !idle_.empty() || open_ < max_size_; });
    if (!woke) {
      const size_t busy = open_ - idle_.size();
      throw PgError("connection pool exhausted (" + std::to_string(busy) + " connections busy)",
                    "53300");
    }
  }
}

void Pool::give_back(Connection conn, uint64_t generation) noexcept {
  PGconn* pc = conn.raw();
  if (pc && PQstatus(pc) == CONNECTION_OK && PQpipelineStatus(pc) == PQ_PIPELINE_OFF) {
    const auto ts = PQtransactionStatus(pc);
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
      try {
        conn.exec("ROLLBACK");
      } catch (const std::exception& e) {
        spdlog::debug("db pool: ROLLBACK of a returned connection failed: {}", e.what());
      }
    }
  }
  if (!conn.healthy()) {
    conn = Connection();
    drop_slot();
    return;
  }
  std::unique_lock lk(mu_);
  if (closed_ || generation != generation_) {
    --open_;
    lk.unlock();
    cv_.notify_all();
    return;  // conn closes here, outside the lock
  }
  idle_.push_back(Idle{std::move(conn), Clock::now()});
  lk.unlock();
  cv_.notify_one();
}

void Pool::drop_slot() noexcept {
  {
    std::lock_guard lk(mu_);
    --open_;
  }
  cv_.notify_one();
}

void Pool::close_idle(std::chrono::seconds older_than) {
  std::vector<Idle> doomed;
  {
    std::lock_guard lk(mu_);
    const auto cutoff = Clock::now() - older_than;
    // idle_ is ordered by return time: oldest first.
    auto end =
        std::find_if(idle_.begin(), idle_.end(), [&](const Idle& i) { return i.since > cutoff; });
    doomed.assign(std::make_move_iterator(idle_.begin()), std::make_move_iterator(end));
    idle_.erase(idle_.begin(), end);
    open_ -= doomed.size();
  }
  if (!doomed.empty()) cv_.notify_all();
  // doomed's connections close here, outside the lock.
}

void Pool::close_all() {
  std::vector<Idle> doomed;
  {
    std::lock_guard lk(mu_);
    closed_ = true;
    ++generation_;
    doomed.swap(idle_);
    open_ -= doomed.size();
  }
  cv_.notify_all();
}

size_t Pool::idle_count() const {
  std::lock_guard lk(mu_);
  return idle_.size();
}

size_t Pool::open_count() const {
  std::lock_guard lk(mu_);
  return open_;
}

bool Pool::closed() const {
  std::lock_guard lk(mu_);
  return closed_;
}

// ---------------------------------------------------------------- PoolSet

PoolSet::PoolSet(std::function<std::string(const std::string& dbname)> conninfo_for,
                 size_t max_per_db, std::chrono::milliseconds acquire_timeout,
                 std::chrono::seconds idle_timeout)
    : conninfo_for_(std::move(conninfo_for)),
      max_per_db_(max_per_db),
      acquire_timeout_(acquire_timeout),
      idle_timeout_(idle_timeout) {
  reaper_ = std::thread([this] { reap_loop(); });
}

PoolSet::~PoolSet() {
  stop();
}

Pool& PoolSet::get(const std::string& dbname) {
  std::lock_guard lk(mu_);
  if (stopping_) throw PgError("database connection pools are stopped", "08003");
  auto it = pools_.find(dbname);
  if (it != pools_.end()) return *it->second;
  auto pool = std::make_unique<Pool>(conninfo_for_(dbname), max_per_db_, acquire_timeout_);
  Pool& ref = *pool;
  pools_.emplace(dbname, std::move(pool));
  return ref;
}

void PoolSet::forget(const std::string& dbname) {
  Pool* pool = nullptr;
  {
    std::lock_guard lk(mu_);
    auto it = pools_.find(dbname);
    if (it == pools_.end()) return;
    pool = it->second.get();
    graveyard_.push_back(std::move(it->second));
    pools_.erase(it);
  }
  pool->close_all();
}

void PoolSet::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (reaper_.joinable()) reaper_.join();
  std::vector<Pool*> all;
  {
    std::lock_guard lk(mu_);
    for (auto& [name, pool] : pools_) all.push_back(pool.get());
  }
  for (Pool* p : all) p->close_all();
}

void PoolSet::reap_loop() {
  const auto interval = std::clamp<std::chrono::milliseconds>(
      idle_timeout_, std::chrono::seconds(1), std::chrono::seconds(5));
  std::unique_lock lk(mu_);
  while (!stopping_) {
    if (cv_.wait_for(lk, interval, [&] { return stopping_; })) break;
    std::vector<Pool*> snapshot;
    snapshot.reserve(pools_.size());
    for (auto& [name, pool] : pools_) snapshot.push_back(pool.get());
    lk.unlock();
    for (Pool* p : snapshot) p->close_idle(idle_timeout_);
    lk.lock();
  }
}

}  // namespace alpaca::db
