#include "db/embedded_postgres.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "db/pg.hpp"
#include "db_test_cluster.hpp"

namespace alpaca::db {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::processes_in_dir;
using testing::TempDir;
using testing::test_cluster_options;
using Clock = std::chrono::steady_clock;

long ms(Clock::duration d) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

// These tests run their own clusters (the shared one must not be killed).
// One data directory for the suite, so initdb runs once.
class EmbeddedPostgresTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dir_ = new TempDir(); }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string data_dir() { return dir_->path(); }
  static inline TempDir* dir_ = nullptr;
};

TEST_F(EmbeddedPostgresTest, FirstStartCreatesTheClusterSecondReusesIt) {
  const std::string cluster = data_dir() + "/postgres";
  const bool fresh = !std::filesystem::exists(cluster + "/PG_VERSION");
  long first_ms = 0;
  {
    EmbeddedPostgres pg(test_cluster_options(data_dir()));
    const auto t0 = Clock::now();
    pg.start();
    first_ms = ms(Clock::now() - t0);
    EXPECT_TRUE(pg.ready());
    EXPECT_GT(pg.pid(), 0);
    EXPECT_TRUE(std::filesystem::exists(cluster + "/PG_VERSION"));
    EXPECT_TRUE(std::filesystem::exists(data_dir() + "/postgres.log"));
    Connection c = Connection::open(pg.conninfo("postgres"));
    EXPECT_EQ(c.exec("SHOW server_encoding").get(0, 0), "UTF8");
    EXPECT_EQ(c.exec("SHOW listen_addresses").get(0, 0), "");
    EXPECT_EQ(c.exec("SHOW shared_buffers").get(0, 0), "16MB");  // settings override defaults
    c.exec("DROP TABLE IF EXISTS survives; CREATE TABLE survives(x int)");
    c.exec("INSERT INTO survives VALUES (7)");
    if (::geteuid() == 0) {
      struct stat st {};
      ASSERT_EQ(::stat(data_dir().c_str(), &st), 0);
      EXPECT_TRUE(st.st_mode & S_IXOTH) << "data dir should have been made traversable";
      ASSERT_EQ(::stat(cluster.c_str(), &st), 0);
      EXPECT_NE(st.st_uid, 0u) << "cluster must belong to the unprivileged OS user";
      ASSERT_EQ(::stat((data_dir() + "/run").c_str(), &st), 0);
      EXPECT_EQ(st.st_mode & 0777, 0700u);
      EXPECT_NE(st.st_uid, 0u);
    }
  }
  EXPECT_TRUE(processes_in_dir(cluster).empty());
  std::printf("[          ] first start (%s): %ld ms\n", fresh ? "with initdb" : "reused",
              first_ms);

  // A log past 10 MiB is rotated on the next start.
  const std::string log = data_dir() + "/postgres.log";
  std::filesystem::resize_file(log, 11 * 1024 * 1024);

  EmbeddedPostgres pg(test_cluster_options(data_dir()));
  const auto t0 = Clock::now();
  pg.start();
  const long second_ms = ms(Clock::now() - t0);
  EXPECT_TRUE(std::filesystem::exists(log + ".1"));
  EXPECT_LT(std::filesystem::file_size(log), 1024u * 1024u);
  std::printf("[          ] second start: %ld ms\n", second_ms);
  EXPECT_LT(second_ms, 10000);
  if (fresh) {
    EXPECT_LT(second_ms, first_ms) << "a reused cluster should start faster";
  }
  Connection c = Connection::open(pg.conninfo("postgres"));
  EXPECT_EQ(c.exec("SELECT x FROM survives").get(0, 0), "7");
}

TEST_F(EmbeddedPostgresTest, RestartsAfterSigkillAndStopLeavesNoProcess) {
  EmbeddedPostgres pg(test_cluster_options(data_dir()));
  pg.start();
  const pid_t first = pg.pid();
  ASSERT_GT(first, 0);
  ASSERT_TRUE(pg.ready());
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  const auto t0 = Clock::now();
  EXPECT_TRUE(eventually([&] { return !pg.ready(); }, 5s)) << "ready() must drop while down";
  EXPECT_TRUE(eventually([&] { return pg.ready() && pg.pid() != first; }, 15s))
      << "not restarted; log:\n"
      << pg.log_path();
  std::printf("[          ] restart after SIGKILL: ready again after %ld ms\n",
              ms(Clock::now() - t0));
  Connection c = Connection::open(pg.conninfo("postgres"));
  EXPECT_EQ(c.exec("SELECT 1").get(0, 0), "1");

  const pid_t second = pg.pid();
  const auto t1 = Clock::now();
  pg.stop();
  std::printf("[          ] stop: %ld ms\n", ms(Clock::now() - t1));
  EXPECT_FALSE(pg.ready());
  EXPECT_EQ(pg.pid(), 0);
  EXPECT_NE(::kill(second, 0), 0) << "postmaster still alive";
  // Every server process (backends, checkpointer, ...) runs in the cluster dir.
  EXPECT_TRUE(eventually([&] { return processes_in_dir(pg.cluster_dir()).empty(); }, 5s));
  pg.stop();  // idempotent
}

TEST_F(EmbeddedPostgresTest, StopWhileWaitingToRestartLeavesNoProcess) {
  EmbeddedPostgres pg(test_cluster_options(data_dir()));
  pg.start();
  const pid_t first = pg.pid();
  ASSERT_GT(first, 0);
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return !pg.ready(); }, 5s));
  const auto t0 = Clock::now();
  pg.stop();  // during the restart backoff (or the restarted server's startup)
  EXPECT_LT(Clock::now() - t0, 5s);
  EXPECT_FALSE(pg.ready());
  EXPECT_EQ(pg.pid(), 0);
  EXPECT_TRUE(eventually([&] { return processes_in_dir(pg.cluster_dir()).empty(); }, 5s));
}

TEST_F(EmbeddedPostgresTest, TooLongDataDirIsAClearError) {
  EmbeddedPostgres pg(test_cluster_options(data_dir() + "/" + std::string(100, 'x')));
  try {
    pg.start();
    FAIL() << "expected start() to fail";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("too long"), std::string::npos) << e.what();
  }
}

TEST_F(EmbeddedPostgresTest, StartFailureReportsTheLogTail) {
  auto opts = test_cluster_options(data_dir());
  opts.settings["no_such_setting_xyz"] = "1";
  opts.start_timeout = 10s;
  EmbeddedPostgres pg(opts);
  try {
    pg.start();
    FAIL() << "expected start() to fail";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("no_such_setting_xyz"), std::string::npos) << msg;
    EXPECT_NE(msg.find("postgres.log"), std::string::npos) << msg;
  }
  EXPECT_FALSE(pg.ready());
  EXPECT_EQ(pg.pid(), 0);
  EXPECT_TRUE(processes_in_dir(pg.cluster_dir()).empty());
}

TEST_F(EmbeddedPostgresTest, ConninfoIsQuoted) {
  auto opts = test_cluster_options("/tmp/with space/it's");
  opts.port = 6543;
  EmbeddedPostgres pg(opts);
  EXPECT_EQ(pg.conninfo("my db"),
            "host='/tmp/with space/it\\'s/run' port=6543 user=postgres dbname='my db'");
}

TEST(EmbeddedPostgresBinDirTest, DetectsTheServerPrograms) {
  std::string dir;
  try {
    dir = EmbeddedPostgres::detect_bin_dir();
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  EXPECT_EQ(::access((dir + "/initdb").c_str(), X_OK), 0) << dir;
  EXPECT_EQ(::access((dir + "/postgres").c_str(), X_OK), 0) << dir;
}

TEST(EmbeddedPostgresBinDirTest, BadBinDirIsAClearError) {
  TempDir dir;
  auto opts = test_cluster_options(dir.path());
  opts.bin_dir = "/nonexistent/bin";
  EmbeddedPostgres pg(opts);
  try {
    pg.start();
    FAIL() << "expected start() to fail";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/bin"), std::string::npos) << e.what();
  }
}

TEST(EmbeddedPostgresUserTest, UnknownOsUserIsAClearError) {
  if (::geteuid() != 0) GTEST_SKIP() << "os_user only matters as root";
  TempDir dir;
  auto opts = test_cluster_options(dir.path());
  opts.os_user = "no-such-user-alpaca";
  EmbeddedPostgres pg(opts);
  try {
    pg.start();
    FAIL() << "expected start() to fail";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("no-such-user-alpaca"), std::string::npos) << msg;
    EXPECT_NE(msg.find("postgres.os_user"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace alpaca::db
