// The isolation layer on its own, against the real kernel: path checks, output collection,
// cgroups and a real bubblewrap box (skipped with a reason where the machine cannot run them).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "isolation/box_files.hpp"
#include "isolation/bwrap_driver.hpp"
#include "isolation/cgroup.hpp"
#include "isolation/process.hpp"
#include "routes/json_io.hpp"

using namespace sandboxes;
using clock_type = std::chrono::steady_clock;

TEST(BoxPath, AcceptsPlainPaths) {
  EXPECT_EQ(checked_box_path("/app/x.py"), "app/x.py");
  EXPECT_EQ(checked_box_path("/app//./x"), "app/x");
  EXPECT_EQ(checked_box_path("/"), "");
}

TEST(BoxPath, RefusesEscapes) {
  for (const char* p : {"app/x", "/app/../etc/passwd", "/..", "/proc/1/root/etc/shadow",
                        "/proc/self/root", "/sys/kernel", "/dev/sda"}) {
    try {
      checked_box_path(p);
      ADD_FAILURE() << p << " was accepted";
    } catch (const BoxError& e) {
      EXPECT_EQ(e.status(), 400) << p;
    }
  }
  EXPECT_THROW(checked_box_path(std::string("/app/a\0b", 8)), BoxError);
}

TEST(Utf8, ReplacesInvalidSequences) {
  bool ok = false;
  EXPECT_EQ(valid_utf8("héllo", &ok), "héllo");
  EXPECT_TRUE(ok);
  EXPECT_EQ(valid_utf8(std::string("a\xff"
                                   "b"),
                       &ok),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_FALSE(ok);
  EXPECT_EQ(valid_utf8(std::string("\xc0\xaf"), &ok), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong
  EXPECT_EQ(valid_utf8(std::string("\xed\xa0\x80"), &ok).find("\xed"), std::string::npos);
}

namespace {
Collected run(const std::vector<std::string>& argv, const std::string& in, int timeout_ms,
              size_t limit) {
  SpawnOptions o;
  o.argv = argv;
  o.env = {"PATH=/usr/bin:/bin"};
  o.pipe_stdin = true;
  Child c = spawn_child(o);
  pid_t pid = c.pid;
  return collect_child(
      c, in, clock_type::now() + std::chrono::milliseconds(timeout_ms), limit,
      [pid] { ::kill(pid, SIGKILL); }, [] {});
}
}  // namespace

TEST(Collect, StdinStdoutStderrAndStatus) {
  Collected r = run({"/bin/sh", "-c", "cat; echo err >&2; exit 3"}, "hello", 5000, 1024);
  EXPECT_EQ(r.out, "hello");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(r.status, 3);
  EXPECT_FALSE(r.truncated);
  EXPECT_FALSE(r.timed_out);
}

TEST(Collect, CapsOutputAndKeepsReading) {
  Collected r = run({"/bin/sh", "-c", "head -c 1000000 /dev/zero"}, "", 5000, 1000);
  EXPECT_EQ(r.out.size(), 1000u);
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.status, 0);  // the writer was never blocked by a full pipe
}

TEST(Collect, TimeoutKills) {
  auto t0 = clock_type::now();
  Collected r = run({"/bin/sleep", "30"}, "", 200, 1000);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.status, 128 + SIGKILL);
  EXPECT_LT(clock_type::now() - t0, std::chrono::seconds(5));
}

TEST(Cgroups, LimitsAndKillAll) {
  if (::geteuid() != 0) GTEST_SKIP() << "cgroups need root here";
  std::string why;
  auto cg = Cgroups::detect("alpaca-sandboxes/gtest-" + std::to_string(::getpid()), &why);
  if (!cg) GTEST_SKIP() << "no usable cgroups: " << why;
  Limits l;
  l.memory_bytes = 64ull << 20;
  l.pids = 17;
  l.cpu_millis = 250;
  cg->create_box("b1", l);
  auto procs = cg->create_leaf("b1", "x1");
  ASSERT_FALSE(procs.empty());
  // A real process joins the leaf and starts children there.
  std::string joins;
  for (const auto& p : procs) joins += "echo $$ > " + p + "; ";
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", joins + "sleep 100 & sleep 100 & exec sleep 100"};
  o.env = {"PATH=/usr/bin:/bin"};
  o.pipe_output = false;
  Child c = spawn_child(o);
  auto deadline = clock_type::now() + std::chrono::seconds(5);
  std::ifstream f;
  size_t n = 0;
  while (clock_type::now() < deadline) {
    std::ifstream in(procs.back());
    n = 0;
    for (int pid; in >> pid;) ++n;
    if (n == 3) break;
    usleep(10000);
  }
  EXPECT_EQ(n, 3u);
  cg->kill_all("b1", "x1");
  EXPECT_EQ(wait_child(c.pid), 128 + SIGKILL);
  EXPECT_EQ(cg->oom_kills("b1/x1"), 0u);
  cg->remove_box("b1");
  EXPECT_TRUE(cg->boxes().empty());
  cg->remove_root();
}

TEST(BwrapBox, ExecFilesAndDestroy) {
  if (::geteuid() != 0) GTEST_SKIP() << "this test runs boxes as root's sandbox uid";
  if (find_program("bwrap").empty()) GTEST_SKIP() << "bubblewrap is not installed";
  std::string helper = ALPACA_SANDBOX_HELPER;
  char tmpl[] = "/tmp/alpaca-bwrap-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  BwrapConfig cfg;
  cfg.helper = helper;
  cfg.run_dir = std::string(tmpl) + "/run";
  cfg.host_uid = cfg.host_gid = 65533;
  cfg.ro_binds = {"/usr"};
  std::string why;
  cfg.cgroups = Cgroups::detect("alpaca-sandboxes/gtest-box-" + std::to_string(::getpid()), &why);
  BwrapDriver driver(cfg);
  BoxSpec spec;
  spec.id = "sbx_gtest";
  spec.network = false;
  auto box = driver.start(spec);
  ExecSpec e;
  e.argv = {"sh", "-c", "id -u; cat; echo $X; pwd"};
  e.env = {{"X", "y"}};
  e.stdin_data = "in\n";
  ExecResult r = box->exec(e);
  EXPECT_EQ(r.stdout_data, "1000\nin\ny\n/app\n") << r.stderr_data;
  EXPECT_EQ(r.exit_code, 0);
  box->write_file("/app/dir/f.txt", std::string("a\0b", 3));
  EXPECT_EQ(box->read_file("/app/dir/f.txt", 100), std::string("a\0b", 3));
  e.argv = {"sh", "-c", "cat /app/dir/f.txt | wc -c; touch /usr/x 2>/dev/null || echo ro"};
  e.stdin_data.clear();
  r = box->exec(e);
  EXPECT_EQ(r.stdout_data, "3\nro\n");
  try {
    box->write_file("/usr/evil", "x");
    ADD_FAILURE() << "wrote into /usr";
  } catch (const BoxError& err) {
    EXPECT_EQ(err.status(), 403);
  }
  EXPECT_TRUE(box->alive());
  box->destroy();
  EXPECT_FALSE(box->alive());
  EXPECT_THROW(box->exec(e), BoxError);
  if (cfg.cgroups) {
    EXPECT_TRUE(cfg.cgroups->boxes().empty());
    cfg.cgroups->remove_root();
  }
  std::string cmd = std::string("rm -rf ") + tmpl;
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}
