#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "db/pool.hpp"
#include "db_test_cluster.hpp"

namespace alpaca::db {
namespace {

using namespace std::chrono_literals;
using testing::ClusterTest;
using testing::eventually;

std::string backend_pid(Lease& lease) {
  return lease->exec("SELECT pg_backend_pid()").get(0, 0);
}

class DbPoolTest : public ClusterTest {
 protected:
  std::unique_ptr<Pool> make_pool(size_t max, std::chrono::milliseconds timeout = 2s) {
    return std::make_unique<Pool>(conninfo(), max, timeout);
  }
};

TEST_F(DbPoolTest, OpensLazilyAndReusesIdleConnections) {
  auto pool = make_pool(4);
  EXPECT_EQ(pool->open_count(), 0u);
  std::string first;
  {
    Lease l = pool->acquire();
    EXPECT_EQ(pool->open_count(), 1u);
    EXPECT_EQ(pool->idle_count(), 0u);
    first = backend_pid(l);
  }
  EXPECT_EQ(pool->idle_count(), 1u);
  Lease again = pool->acquire();
  EXPECT_EQ(backend_pid(again), first);
  EXPECT_EQ(pool->open_count(), 1u);
}

TEST_F(DbPoolTest, ReusesTheMostRecentlyReturnedFirst) {
  auto pool = make_pool(4);
  Lease a = pool->acquire();
  Lease b = pool->acquire();
  const std::string pa = backend_pid(a), pb = backend_pid(b);
  ASSERT_NE(pa, pb);
  a = Lease();  // returns a
  b = Lease();  // then b
  EXPECT_EQ(pool->idle_count(), 2u);
  Lease c = pool->acquire();
  EXPECT_EQ(backend_pid(c), pb);
  Lease d = pool->acquire();
  EXPECT_EQ(backend_pid(d), pa);
}

TEST_F(DbPoolTest, BoundedAndTimesOutWith53300) {
  auto pool = make_pool(2, 200ms);
  Lease a = pool->acquire();
  Lease b = pool->acquire();
  const auto t0 = std::chrono::steady_clock::now();
  try {
    Lease c = pool->acquire();
    FAIL() << "expected PgError";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate, "53300");
    EXPECT_STREQ(e.what(), "connection pool exhausted (2 connections busy)");
  }
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 190ms);
  EXPECT_LT(waited, 2s);
  EXPECT_EQ(pool->open_count(), 2u);
}

TEST_F(DbPoolTest, WaiterGetsTheConnectionReturnedByAnotherThread) {
  auto pool = make_pool(1, 5s);
  Lease a = pool->acquire();
  const std::string pa = backend_pid(a);
  std::thread releaser([&] {
    std::this_thread::sleep_for(100ms);
    a = Lease();
  });
  const auto t0 = std::chrono::steady_clock::now();
  Lease b = pool->acquire();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 90ms);
  EXPECT_EQ(backend_pid(b), pa);
  releaser.join();
}

TEST_F(DbPoolTest, ManyThreadsShareABoundedPool) {
  auto pool = make_pool(3, 10s);
  std::atomic<int> errors{0};
  std::atomic<size_t> max_open{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        try {
          Lease l = pool->acquire();
          size_t open = pool->open_count();
          size_t seen = max_open.load();
          while (open > seen && !max_open.compare_exchange_weak(seen, open)) {
          }
          auto r = l->exec("SELECT $1::int * 2", {std::to_string(t * 100 + i)});
          if (r.get(0, 0) != std::to_string((t * 100 + i) * 2)) ++errors;
        } catch (const std::exception&) {
          ++errors;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_LE(max_open.load(), 3u);
  EXPECT_LE(pool->open_count(), 3u);
  EXPECT_EQ(pool->idle_count(), pool->open_count());
}

TEST_F(DbPoolTest, BrokenLeasedConnectionIsDiscarded) {
  auto pool = make_pool(2);
  Connection admin = Connection::open(conninfo());
  {
    Lease l = pool->acquire();
    const std::string pid = backend_pid(l);
    admin.exec("SELECT pg_terminate_backend($1::int, 5000)", {pid});
    EXPECT_THROW(
        {
          l->exec("SELECT 1");
          l->exec("SELECT 1");
        },
        PgError);
  }
  EXPECT_EQ(pool->open_count(), 0u);
  EXPECT_EQ(pool->idle_count(), 0u);
  Lease fresh = pool->acquire();
  EXPECT_EQ(fresh->exec("SELECT 1").get(0, 0), "1");
}

TEST_F(DbPoolTest, DeadIdleConnectionIsNotHandedOut) {
  auto pool = make_pool(2);
  Connection admin = Connection::open(conninfo());
  std::string pid;
  {
    Lease l = pool->acquire();
    pid = backend_pid(l);
  }
  ASSERT_EQ(pool->idle_count(), 1u);
  // Wait (5 s max) until the backend is really gone.
  admin.exec("SELECT pg_terminate_backend($1::int, 5000)", {pid});
  Lease l = pool->acquire();
  EXPECT_NE(backend_pid(l), pid);
  EXPECT_EQ(pool->open_count(), 1u);
}

TEST_F(DbPoolTest, ConnectionLeftInTransactionIsRolledBack) {
  auto pool = make_pool(1);
  Connection admin = Connection::open(conninfo());
  admin.exec("DROP TABLE IF EXISTS pool_tx; CREATE TABLE pool_tx(x int)");
  std::string pid;
  {
    Lease l = pool->acquire();
    pid = backend_pid(l);
    l->exec("BEGIN");
    l->exec("INSERT INTO pool_tx VALUES (1)");
  }
  {
    Lease l = pool->acquire();
    EXPECT_EQ(backend_pid(l), pid) << "the rolled back connection should be reused";
    EXPECT_TRUE(l->healthy());
    EXPECT_EQ(l->exec("SELECT count(*) FROM pool_tx").get(0, 0), "0");
    // Failed transaction (INERROR) too.
    l->exec("BEGIN");
    EXPECT_THROW(l->exec("SELECT 1/0"), PgError);
  }
  Lease l = pool->acquire();
  EXPECT_EQ(backend_pid(l), pid);
  EXPECT_TRUE(l->healthy());
  EXPECT_EQ(admin.exec("SELECT count(*) FROM pool_tx").get(0, 0), "0");
  admin.exec("DROP TABLE pool_tx");
}

TEST_F(DbPoolTest, DiscardClosesInsteadOfReturning) {
  auto pool = make_pool(2);
  Lease l = pool->acquire();
  l.discard();
  EXPECT_FALSE(l);
  EXPECT_EQ(pool->open_count(), 0u);
  EXPECT_EQ(pool->idle_count(), 0u);
}

TEST_F(DbPoolTest, CloseIdleClosesOnlyOldIdleConnections) {
  auto pool = make_pool(3);
  {
    Lease a = pool->acquire();
    Lease b = pool->acquire();
  }
  Lease busy = pool->acquire();
  EXPECT_EQ(pool->open_count(), 2u);
  pool->close_idle(3600s);
  EXPECT_EQ(pool->idle_count(), 1u);
  pool->close_idle(0s);
  EXPECT_EQ(pool->idle_count(), 0u);
  EXPECT_EQ(pool->open_count(), 1u);
  busy = Lease();
  EXPECT_EQ(pool->idle_count(), 1u);
}

TEST_F(DbPoolTest, CloseAllClosesIdleNowAndBusyOnReturn) {
  auto pool = make_pool(3);
  Lease busy = pool->acquire();
  { Lease idle = pool->acquire(); }
  EXPECT_EQ(pool->open_count(), 2u);
  pool->close_all();
  EXPECT_TRUE(pool->closed());
  EXPECT_EQ(pool->idle_count(), 0u);
  EXPECT_EQ(pool->open_count(), 1u);
  EXPECT_EQ(busy->exec("SELECT 1").get(0, 0), "1");  // still usable until returned
  busy = Lease();
  EXPECT_EQ(pool->open_count(), 0u);
  try {
    pool->acquire();
    FAIL() << "expected PgError";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate, "08003");
  }
}

TEST_F(DbPoolTest, UnreachableServerIs08006AndFreesTheSlot) {
  Pool pool("host=/nonexistent-alpaca-dir dbname=x", 1, 100ms);
  EXPECT_THROW(pool.acquire(), PgError);
  EXPECT_EQ(pool.open_count(), 0u);
  try {
    pool.acquire();
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate, "08006");  // not 53300: the slot was given back
  }
}

class DbPoolSetTest : public ClusterTest {
 protected:
  std::unique_ptr<PoolSet> make_set(std::chrono::seconds idle_timeout = 300s) {
    return std::make_unique<PoolSet>([this](const std::string& db) { return conninfo(db); }, 4, 2s,
                                     idle_timeout);
  }
};

TEST_F(DbPoolSetTest, GetReturnsOnePoolPerDatabase) {
  auto set = make_set();
  Pool& a = set->get("postgres");
  Pool& b = set->get("template1");
  EXPECT_EQ(&set->get("postgres"), &a);
  EXPECT_NE(&a, &b);
  Lease l = b.acquire();
  EXPECT_EQ(l->exec("SELECT current_database()").get(0, 0), "template1");
}

TEST_F(DbPoolSetTest, ForgetLetsDropDatabaseSucceed) {
  auto set = make_set();
  Connection admin = Connection::open(conninfo());
  admin.exec("DROP DATABASE IF EXISTS pool_forget_db");
  admin.exec("CREATE DATABASE pool_forget_db");
  Pool& before = set->get("pool_forget_db");
  Lease busy = before.acquire();
  { Lease idle = before.acquire(); }
  ASSERT_EQ(before.open_count(), 2u);
  // Precondition: the pool really holds sessions on that database (with them
  // DROP DATABASE would wait 5 s and fail with 55006).
  EXPECT_EQ(admin.exec("SELECT count(*) FROM pg_stat_activity WHERE datname = 'pool_forget_db'")
                .get(0, 0),
            "2");
  set->forget("pool_forget_db");
  EXPECT_EQ(before.idle_count(), 0u);
  busy = Lease();  // closed on return, not pooled
  EXPECT_EQ(before.open_count(), 0u);
  // The backends exit asynchronously after the client closes; DROP DATABASE
  // itself waits up to 5 s for them.
  EXPECT_NO_THROW(admin.exec("DROP DATABASE pool_forget_db"));
  Pool& after = set->get("pool_forget_db");
  EXPECT_NE(&after, &before);
  EXPECT_FALSE(after.closed());
  EXPECT_THROW(before.acquire(), PgError);
}

TEST_F(DbPoolSetTest, ReaperClosesIdleConnections) {
  auto set = make_set(1s);
  Pool& pool = set->get("postgres");
  { Lease l = pool.acquire(); }
  EXPECT_EQ(pool.idle_count(), 1u);
  EXPECT_TRUE(eventually([&] { return pool.open_count() == 0; }, 5s));
}

TEST_F(DbPoolSetTest, StopClosesEverythingAndGetThrows) {
  auto set = make_set();
  Pool& pool = set->get("postgres");
  { Lease l = pool.acquire(); }
  set->stop();
  EXPECT_EQ(pool.open_count(), 0u);
  EXPECT_THROW(set->get("postgres"), PgError);
  set->stop();  // idempotent
}

}  // namespace
}  // namespace alpaca::db
