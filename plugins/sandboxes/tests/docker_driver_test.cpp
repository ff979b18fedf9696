// The Docker isolation driver against a real engine. Skipped when /var/run/docker.sock is
// missing or the engine does not answer /_ping.
//
// The tests make their own image: an empty skeleton (/usr, /etc, /tmp, /app, /home/user, ...,
// bin/lib/lib64 links into /usr) imported as alpaca-sandbox-test:local; every box binds the
// host's /usr read-only, so sh, coreutils and python3 come from the host.
#include "isolation/docker_driver.hpp"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "isolation/docker_client.hpp"

namespace sandboxes {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kSocket = "/var/run/docker.sock";
constexpr const char* kImage = "alpaca-sandbox-test:local";

long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

std::string name_prefix() {
  std::string p = "alpaca-test-sbx-";
  p += std::to_string(::getpid());
  p += '-';
  return p;
}

std::string next_id(const char* what) {
  static std::atomic<int> n{0};
  std::string id = "t";
  id += std::to_string(++n);
  id += '_';
  id += what;
  return id;
}

bool write_text(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
  return static_cast<bool>(f);
}

// Checks the engine once and imports the test image; `why` says what is missing.
struct Engine {
  bool usable = false;
  std::string why;

  static Engine& get() {
    static Engine e = make();
    return e;
  }

 private:
  static Engine make() {
    Engine e;
    struct stat st {};
    if (::stat(kSocket, &st) != 0) {
      e.why = "no Docker engine socket at ";
      e.why += kSocket;
      return e;
    }
    docker::Client client(kSocket);
    if (!client.ping()) {
      e.why = "the Docker engine at ";
      e.why += kSocket;
      e.why += " does not answer GET /_ping";
      return e;
    }
    std::string err = import_image(client);
    if (!err.empty()) {
      e.why = "cannot import the test image: ";
      e.why += err;
      return e;
    }
    e.usable = true;
    return e;
  }

  // Bump when the skeleton changes: an image with this label is reused.
  static constexpr const char* kSkeletonVersion = "1";

  static std::string import_image(const docker::Client& client) {
    docker::Response existing = client.get("/images/alpaca-sandbox-test:local/json");
    if (existing.ok()) {
      auto config = existing.object()->getObject("Config");
      auto labels = config ? config->getObject("Labels") : nullptr;
      if (labels && labels->optValue<std::string>("alpaca.test.skeleton", "") == kSkeletonVersion)
        return {};
    }
    char tmpl[] = "/tmp/alpaca-docker-test-XXXXXX";
    if (!::mkdtemp(tmpl)) return "mkdtemp failed";
    const fs::path dir(tmpl);
    const fs::path root = dir / "root";
    std::error_code ec;
    for (const char* d : {"usr", "etc", "tmp", "app", "proc", "dev", "sys", "home/user", "sbin"})
      fs::create_directories(root / d, ec);
    fs::create_directory_symlink("usr/bin", root / "bin", ec);
    fs::create_directory_symlink("usr/lib", root / "lib", ec);
    fs::create_directory_symlink("usr/lib64", root / "lib64", ec);
    ::chmod((root / "tmp").c_str(), 01777);
    write_text(root / "etc/passwd",
               "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n");
    write_text(root / "etc/group", "root:x:0:\nuser:x:1000:\n");
    std::string cmd = "tar --numeric-owner --owner=0 --group=0 -C '";
    cmd += root.string();
    cmd += "' -cf '";
    cmd += (dir / "image.tar").string();
    cmd += "' .";
    int rc = std::system(cmd.c_str());
    // The previous import, if any, is dropped once replaced (unless a container still uses it).
    std::string old_id;
    docker::Response old = client.get("/images/alpaca-sandbox-test:local/json");
    if (old.ok()) old_id = old.object()->optValue<std::string>("Id", "");
    std::string result;
    if (rc != 0) {
      result = "tar failed";
    } else {
      std::ifstream f(dir / "image.tar", std::ios::binary);
      std::string tar((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      std::string path = "/images/create?fromSrc=-&repo=alpaca-sandbox-test&tag=local&changes=";
      std::string change = "LABEL alpaca.test.skeleton=";
      change += kSkeletonVersion;
      path += docker::Client::url_encode(change);
      docker::Response r = client.request("POST", path, tar, "application/x-tar", 120000);
      if (!r.ok() || r.body.find("\"error") != std::string::npos) result = r.message();
      if (result.empty() && !old_id.empty()) {
        docker::Response now = client.get("/images/alpaca-sandbox-test:local/json");
        if (now.ok() && now.object()->optValue<std::string>("Id", "") != old_id) {
          std::string path = "/images/";
          path += old_id;
          client.del(path);
        }
      }
    }
    fs::remove_all(dir, ec);
    return result;
  }
};

DockerConfig config() {
  DockerConfig cfg;
  cfg.socket = kSocket;
  cfg.image = kImage;
  cfg.binds.push_back(Mount{"/usr", "/usr", true});
  cfg.name_prefix = name_prefix();
  return cfg;
}

ExecSpec sh(const std::string& command) {
  ExecSpec s;
  s.argv = {"sh", "-c", command};
  s.timeout_ms = 30000;
  return s;
}

int status_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const BoxError& e) {
    return e.status();
  }
  return 0;
}

// Counts live (non-zombie) processes named `comm` in the box.
int count_processes(Box& box, const std::string& comm) {
  std::string cmd = "n=0; for d in /proc/[0-9]*; do read -r c < $d/comm 2>/dev/null || continue; ";
  cmd += "read -r l < $d/stat; set -- ${l##*) }; [ \"$1\" = Z ] && continue; ";
  cmd += "[ \"$c\" = '";
  cmd += comm;
  cmd += "' ] && n=$((n+1)); done; echo $n";
  ExecResult r = box.exec(sh(cmd));
  EXPECT_EQ(r.exit_code, 0) << r.stderr_data;
  return std::atoi(r.stdout_data.c_str());
}

class DockerDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Engine& e = Engine::get();
    if (!e.usable) GTEST_SKIP() << e.why;
    if (!driver_) driver_ = std::make_unique<DockerDriver>(config());
  }

  static void TearDownTestSuite() {
    shared_.reset();
    if (driver_) {
      try {
        driver_->reap_leftovers();
      } catch (const std::exception&) {
      }
    }
    driver_.reset();
  }

  // One box for the tests that do not hurt it.
  Box& shared() {
    if (!shared_) {
      BoxSpec spec;
      spec.id = next_id("shared");
      spec.limits.disk_bytes = 64ull << 20;
      shared_ = driver_->start(spec);
    }
    return *shared_;
  }

  std::unique_ptr<Box> start(const char* what, Limits limits = {}, bool network = true) {
    BoxSpec spec;
    spec.id = next_id(what);
    spec.limits = limits;
    spec.network = network;
    return driver_->start(spec);
  }

  static std::unique_ptr<DockerDriver> driver_;
  static std::unique_ptr<Box> shared_;
};

std::unique_ptr<DockerDriver> DockerDriverTest::driver_;
std::unique_ptr<Box> DockerDriverTest::shared_;

TEST_F(DockerDriverTest, ExecEchoGivesStdoutAndExitCode) {
  ExecSpec s;
  s.argv = {"echo", "hi"};
  ExecResult r = shared().exec(s);
  EXPECT_EQ(r.stdout_data, "hi\n");
  EXPECT_EQ(r.stderr_data, "");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(r.truncated);
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.out_of_memory);
}

TEST_F(DockerDriverTest, StderrAndNonzeroExit) {
  ExecResult r = shared().exec(sh("echo out; echo oops >&2; exit 3"));
  EXPECT_EQ(r.stdout_data, "out\n");
  EXPECT_EQ(r.stderr_data, "oops\n");
  EXPECT_EQ(r.exit_code, 3);
  ExecResult killed = shared().exec(sh("kill -TERM $$"));
  EXPECT_EQ(killed.exit_code, 143);
  EXPECT_FALSE(killed.out_of_memory);
}

TEST_F(DockerDriverTest, CommandNotFound) {
  ExecSpec s;
  s.argv = {"no-such-command-here"};
  ExecResult r = shared().exec(s);
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_NE(r.stderr_data.find("not found"), std::string::npos) << r.stderr_data;
}

TEST_F(DockerDriverTest, Stdin) {
  ExecSpec s;
  s.argv = {"cat"};
  s.stdin_data = "hello\nworld";
  ExecResult r = shared().exec(s);
  EXPECT_EQ(r.stdout_data, "hello\nworld");
  EXPECT_EQ(r.exit_code, 0);

  // More than any pipe buffer, both ways at once.
  ExecSpec big;
  big.argv = {"cat"};
  big.stdin_data.assign(8u << 20, 'z');
  big.output_limit = 16u << 20;
  ExecResult b = shared().exec(big);
  EXPECT_EQ(b.exit_code, 0);
  EXPECT_EQ(b.stdout_data.size(), big.stdin_data.size());
  EXPECT_TRUE(b.stdout_data == big.stdin_data);

  // A process that does not read its stdin.
  ExecSpec ignore = sh("echo done");
  ignore.stdin_data.assign(4u << 20, 'q');
  ExecResult i = shared().exec(ignore);
  EXPECT_EQ(i.exit_code, 0);
  EXPECT_EQ(i.stdout_data, "done\n");
}

TEST_F(DockerDriverTest, EnvironmentAndUser) {
  ExecSpec s = sh("echo \"$FOO|$HOME|$LANG|$(id -u):$(id -g)|$PATH\"");
  s.env = {{"FOO", "bar baz"}};
  ExecResult r = shared().exec(s);
  EXPECT_EQ(r.stdout_data,
            "bar baz|/home/user|C.UTF-8|1000:1000|"
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
  EXPECT_EQ(r.exit_code, 0);

  // The caller's PATH and IFS do not upset the driver's own shell code.
  ExecSpec odd;
  odd.argv = {"/bin/sh", "-c", "/bin/sleep 100 & /bin/echo \"$PATH\""};
  odd.env = {{"PATH", "/nowhere"}, {"IFS", "x"}};
  ExecResult o = shared().exec(odd);
  EXPECT_EQ(o.stdout_data, "/nowhere\n");
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_LT(o.duration_ms, 20000u);  // not the 100 s of its leftover
  EXPECT_EQ(count_processes(shared(), "sleep"), 0);
}

TEST_F(DockerDriverTest, WorkingDirectory) {
  ExecResult r = shared().exec(sh("pwd"));
  EXPECT_EQ(r.stdout_data, "/app\n");
  ExecSpec t = sh("pwd");
  t.cwd = "/tmp";
  EXPECT_EQ(shared().exec(t).stdout_data, "/tmp\n");
  ExecSpec missing = sh("pwd");
  missing.cwd = "/no/such/dir";
  ExecResult m = shared().exec(missing);
  EXPECT_EQ(m.exit_code, 126);
  EXPECT_NE(m.stderr_data.find("/no/such/dir"), std::string::npos) << m.stderr_data;
}

TEST_F(DockerDriverTest, ReadOnlyRootAndWritableTmpfs) {
  ExecResult r = shared().exec(
      sh("touch /etc/x 2>/dev/null && echo etc-writable; touch /usr/x 2>/dev/null && echo "
         "usr-writable; for d in /app /home/user /tmp; do touch $d/f && echo ok; done; "
         "printf '#!/bin/sh\\necho script-ran\\n' > /app/s.sh && chmod +x /app/s.sh && /app/s.sh"));
  EXPECT_EQ(r.stdout_data, "ok\nok\nok\nscript-ran\n") << r.stderr_data;
  ExecResult caps = shared().exec(sh("grep CapEff /proc/self/status"));
  EXPECT_EQ(caps.stdout_data, "CapEff:\t0000000000000000\n");
}

TEST_F(DockerDriverTest, TimeoutKillsTheTree) {
  Box& box = shared();
  ExecSpec s = sh("sleep 100 & sleep 100 & sleep 100");
  s.timeout_ms = 500;
  auto t0 = Clock::now();
  ExecResult r = box.exec(s);
  long long took = ms_since(t0);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, 137);
  EXPECT_FALSE(r.out_of_memory);
  EXPECT_NE(r.stderr_data.find("alpaca: timed out after 500 ms; the process tree was killed\n"),
            std::string::npos)
      << r.stderr_data;
  EXPECT_LT(took, 20000);  // far below the 100 s sleeps, with room for a busy machine
  EXPECT_EQ(count_processes(box, "sleep"), 0);

  // Output written before the timeout is kept.
  ExecSpec partial = sh("echo before; sleep 100");
  partial.timeout_ms = 800;
  ExecResult p = box.exec(partial);
  EXPECT_TRUE(p.timed_out);
  EXPECT_EQ(p.stdout_data, "before\n");
}

TEST_F(DockerDriverTest, LeftoversAreKilledWhenExecReturns) {
  Box& box = shared();
  auto t0 = Clock::now();
  ExecResult r =
      box.exec(sh("sleep 100 & (sleep 101 &) ; setsid sleep 102 & nohup sleep 103 >/dev/null "
                  "2>&1 & echo started"));
  long long took = ms_since(t0);
  EXPECT_EQ(r.stdout_data, "started\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_LT(took, 20000) << "the exec waited for its leftovers (100 s)";
  EXPECT_EQ(count_processes(box, "sleep"), 0);

  // python's start_new_session (a daemon's setsid) is caught by the exec's marker.
  ExecResult d = box.exec(
      {sh("python3 -c 'import subprocess; subprocess.Popen([\"sleep\", \"104\"], "
          "start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)'")});
  EXPECT_EQ(d.exit_code, 0) << d.stderr_data;
  EXPECT_EQ(count_processes(box, "sleep"), 0);
}

TEST_F(DockerDriverTest, OutputIsCapped) {
  ExecSpec s = sh("head -c 5000 /dev/zero | tr '\\0' a; echo err >&2");
  s.output_limit = 1000;
  ExecResult r = shared().exec(s);
  EXPECT_EQ(r.stdout_data, std::string(1000, 'a'));
  EXPECT_EQ(r.stderr_data, "err\n");
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.exit_code, 0);

  ExecSpec big = sh("head -c 50000000 /dev/zero; echo end >&2");
  big.output_limit = 1u << 20;
  ExecResult b = shared().exec(big);
  EXPECT_EQ(b.stdout_data.size(), 1u << 20);
  EXPECT_TRUE(b.truncated);
  EXPECT_EQ(b.stderr_data, "end\n");
  EXPECT_EQ(b.exit_code, 0);
}

TEST_F(DockerDriverTest, ConcurrentExecs) {
  Box& box = shared();
  std::vector<ExecResult> results(5);
  std::vector<std::thread> threads;
  auto t0 = Clock::now();
  for (int i = 0; i < 5; ++i) {
    threads.emplace_back([&, i] {
      std::string cmd = "sleep 1 & sleep 3; echo ";
      cmd += std::to_string(i);
      results[static_cast<size_t>(i)] = box.exec(sh(cmd));
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(results[static_cast<size_t>(i)].stdout_data, std::to_string(i) + "\n");
    EXPECT_EQ(results[static_cast<size_t>(i)].exit_code, 0);
  }
  EXPECT_LT(ms_since(t0), 12000);  // one after another they take 15 s
  EXPECT_EQ(count_processes(box, "sleep"), 0);
}

TEST_F(DockerDriverTest, FilesRoundTrip) {
  Box& box = shared();
  std::string bytes;
  for (int rep = 0; rep < 4; ++rep)
    for (int c = 0; c < 256; ++c) bytes += static_cast<char>(c);
  box.write_file("/app/a/b/c.bin", bytes);
  EXPECT_EQ(box.read_file("/app/a/b/c.bin", 1 << 20), bytes);
  ExecResult st = box.exec(sh("stat -c '%u:%g:%a:%s' /app/a/b/c.bin; stat -c '%u:%a' /app/a/b"));
  EXPECT_EQ(st.stdout_data, "1000:1000:644:1024\n1000:755\n");

  box.write_file("/home/user/notes.txt", "hello\n");
  EXPECT_EQ(box.read_file("/home/user/notes.txt", 100), "hello\n");
  box.write_file("/home/user/notes.txt", "replaced");
  EXPECT_EQ(box.read_file("//home/user/./notes.txt", 100), "replaced");
  box.write_file("/tmp/empty", "");
  EXPECT_EQ(box.read_file("/tmp/empty", 100), "");

  std::string big(3u << 20, 'x');
  big[12345] = '\0';
  box.write_file("/tmp/big.bin", big);
  EXPECT_TRUE(box.read_file("/tmp/big.bin", big.size()) == big);
  EXPECT_EQ(status_of([&] { box.read_file("/tmp/big.bin", big.size() - 1); }), 413);

  // Symlinks in the middle resolve inside the box.
  box.exec(sh("mkdir -p /app/real && ln -sfn /app/real /app/linkdir"));
  box.write_file("/app/linkdir/f.txt", "via link");
  EXPECT_EQ(box.read_file("/app/real/f.txt", 100), "via link");
}

TEST_F(DockerDriverTest, FilePathsAreChecked) {
  Box& box = shared();
  box.exec(
      sh("ln -sfn /etc/hostname /app/link; ln -sfn /proc /app/p; ln -sfn /dev/shm /app/shm; "
         "echo x > /app/plain"));
  auto read = [&](const std::string& p) { return status_of([&] { box.read_file(p, 1 << 20); }); };
  auto write = [&](const std::string& p) { return status_of([&] { box.write_file(p, "data"); }); };
  EXPECT_EQ(read("relative/path"), 400);
  EXPECT_EQ(read(""), 400);
  EXPECT_EQ(read("/app/../etc/passwd"), 400);
  EXPECT_EQ(read("/app/.."), 400);
  EXPECT_EQ(read("/proc/self/environ"), 400);
  EXPECT_EQ(read("//proc/1/environ"), 400);
  EXPECT_EQ(read("/sys/kernel/notes"), 400);
  EXPECT_EQ(read("/dev/null"), 400);
  EXPECT_EQ(read(std::string("/app/x\0y", 8)), 400);
  EXPECT_EQ(read("/app"), 400);
  EXPECT_EQ(read("/app/link"), 400);            // a symlink as the last part
  EXPECT_EQ(read("/app/p/self/environ"), 400);  // resolves into /proc
  EXPECT_EQ(read("/app/missing"), 404);
  EXPECT_EQ(read("/app/plain/below"), 404);
  EXPECT_EQ(write("/app/../x"), 400);
  EXPECT_EQ(write("/proc/x"), 400);
  EXPECT_EQ(write("/dev/shm/x"), 400);
  EXPECT_EQ(write("/app/shm/x"), 400);  // resolves into /dev
  EXPECT_EQ(write("/app/link"), 400);
  EXPECT_EQ(write("/app"), 400);
  EXPECT_EQ(write("/app/dir/"), 400);
  EXPECT_EQ(write("/app/plain/below"), 400);
  EXPECT_EQ(write("/usr/x"), 403);
  EXPECT_EQ(write("/etc/x"), 403);
  EXPECT_EQ(write("/x"), 403);
  EXPECT_EQ(write("/newdir/x"), 403);
  EXPECT_EQ(box.read_file("/etc/hostname", 100), "sandbox\n");
}

TEST_F(DockerDriverTest, DiskFullIs507) {
  Limits lim;
  lim.disk_bytes = 1u << 20;
  auto box = start("disk", lim);
  EXPECT_EQ(status_of([&] { box->write_file("/app/big", std::string(2u << 20, 'x')); }), 507);
  ExecResult r = box->exec(sh("ls /app; df -k /app | tail -1"));
  EXPECT_EQ(r.stdout_data.find("big"), std::string::npos) << "the partial file stays";
  box->write_file("/app/small", "fits");
  EXPECT_EQ(box->read_file("/app/small", 10), "fits");
}

TEST_F(DockerDriverTest, MemoryHogIsKilledAndTheBoxStays) {
  Limits lim;
  lim.memory_bytes = 64ull << 20;
  auto box = start("oom", lim);
  ExecSpec s;
  s.argv = {"python3", "-c", "x = b'x' * (400 << 20)\nprint('survived')"};
  ExecResult r = box->exec(s);
  EXPECT_EQ(r.exit_code, 137) << r.stderr_data;
  EXPECT_TRUE(r.out_of_memory);
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.stderr_data.find("alpaca: killed: out of memory (the sandbox's memory limit)\n"),
            std::string::npos)
      << r.stderr_data;
  EXPECT_EQ(r.stdout_data, "");
  EXPECT_TRUE(box->alive());
  EXPECT_EQ(box->exec(sh("echo still here")).stdout_data, "still here\n");
  // A plain SIGKILL is not reported as out of memory.
  ExecResult k = box->exec(sh("kill -9 $$"));
  EXPECT_EQ(k.exit_code, 137);
  EXPECT_FALSE(k.out_of_memory);
}

TEST_F(DockerDriverTest, PidsLimitHoldsAForkBomb) {
  Limits lim;
  lim.pids = 64;
  auto box = start("bomb", lim);
  ExecSpec bomb = sh("f() { f | f & }; f; sleep 100");
  bomb.timeout_ms = 3000;
  auto t0 = Clock::now();
  ExecResult r = box->exec(bomb);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, 137);
  // It returns; killing a full pids table through the engine takes seconds on a busy machine.
  EXPECT_LT(ms_since(t0), 30000);
  ExecResult after = box->exec(sh("cat /sys/fs/cgroup/pids/pids.max; echo ok"));
  EXPECT_EQ(after.stdout_data, "64\nok\n") << after.stderr_data;
  // The supervisor, and the counting exec's wrapper and shell.
  EXPECT_EQ(count_processes(*box, "sh"), 3);
  EXPECT_TRUE(box->alive());

  // The same bomb left behind by an exec that returns at once.
  ExecResult quick = box->exec(sh("f() { f | f & }; f"));
  EXPECT_FALSE(quick.timed_out);
  EXPECT_EQ(count_processes(*box, "sh"), 3);
}

TEST_F(DockerDriverTest, SpawnRunsInTheBackgroundUntilStopped) {
  Box& box = shared();
  ExecSpec s = sh("echo started; echo to-stderr >&2; exec sleep 100");
  uint64_t h = box.spawn(s, "/tmp/spawn.log");
  int code = 0;
  EXPECT_TRUE(box.process_running(h, &code));
  std::string log;
  for (int i = 0; i < 100 && log.find("to-stderr") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    log = box.read_file("/tmp/spawn.log", 1 << 20);
  }
  EXPECT_EQ(log, "started\nto-stderr\n");
  // Other execs and their cleanup leave it alone.
  EXPECT_EQ(box.exec(sh("sleep 50 & echo x")).stdout_data, "x\n");
  EXPECT_TRUE(box.process_running(h, &code));
  box.stop_process(h);
  EXPECT_FALSE(box.process_running(h, &code));
  EXPECT_EQ(code, 137);
  EXPECT_EQ(count_processes(box, "sleep"), 0);

  uint64_t quick = box.spawn(sh("exit 3"), "/tmp/quick.log");
  for (int i = 0; i < 200 && box.process_running(quick, &code); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(box.process_running(quick, &code));
  EXPECT_EQ(code, 3);

  EXPECT_EQ(status_of([&] { box.spawn(sh("true"), "/usr/cannot.log"); }), 400);
  ExecSpec bad_cwd = sh("true");
  bad_cwd.cwd = "/nowhere";
  EXPECT_EQ(status_of([&] { box.spawn(bad_cwd, "/tmp/x.log"); }), 400);
  EXPECT_FALSE(box.process_running(987654, &code));
}

TEST_F(DockerDriverTest, ExposePortRelaysToTheBox) {
  auto box = start("port");
  std::string page(3u << 20, 'p');
  page[777] = '\n';
  box->write_file("/app/index.html", page);
  ExecSpec web;
  web.argv = {"python3", "-m", "http.server", "8000", "--bind", "0.0.0.0"};
  uint64_t web_handle = box->spawn(web, "/tmp/web.log");
  ExecSpec echo;
  echo.argv = {"python3", "-c",
               "import socket\n"
               "s = socket.socket()\n"
               "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
               "s.bind(('0.0.0.0', 9000))\n"
               "s.listen()\n"
               "while True:\n"
               "    c, _ = s.accept()\n"
               "    data = b''\n"
               "    while True:\n"
               "        d = c.recv(65536)\n"
               "        if not d: break\n"
               "        data += d\n"
               "    c.sendall(data[::-1])\n"
               "    c.close()\n"};
  box->spawn(echo, "/tmp/echo.log");

  const uint16_t web_port = box->expose_port(8000);
  EXPECT_EQ(box->expose_port(8000), web_port);
  int status = 0;
  std::string body;
  for (int i = 0; i < 200 && status != 200; ++i) {
    try {
      Poco::Net::HTTPClientSession session("127.0.0.1", web_port);
      session.setTimeout(Poco::Timespan(10, 0));
      Poco::Net::HTTPRequest request("GET", "/index.html", Poco::Net::HTTPMessage::HTTP_1_1);
      session.sendRequest(request);
      Poco::Net::HTTPResponse response;
      std::istream& in = session.receiveResponse(response);
      status = static_cast<int>(response.getStatus());
      body.clear();
      Poco::StreamCopier::copyToString(in, body);
    } catch (const Poco::Exception&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(body == page) << body.size();

  // Upload, half-close, download: both directions and the FIN go through.
  const uint16_t echo_port = box->expose_port(9000);
  EXPECT_NE(echo_port, web_port);
  std::string sent(2u << 20, 'a');
  for (size_t i = 0; i < sent.size(); i += 4096) sent[i] = static_cast<char>('b' + i % 20);
  std::string got;
  for (int i = 0; i < 200 && got.size() != sent.size(); ++i) {
    got.clear();
    try {
      Poco::Net::StreamSocket sock(Poco::Net::SocketAddress("127.0.0.1", echo_port));
      sock.setReceiveTimeout(Poco::Timespan(10, 0));
      size_t off = 0;
      while (off < sent.size())
        off += static_cast<size_t>(
            sock.sendBytes(sent.data() + off, static_cast<int>(sent.size() - off)));
      sock.shutdownSend();
      char buf[65536];
      int n;
      while ((n = sock.receiveBytes(buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
    } catch (const Poco::Exception&) {
    }
    if (got.size() != sent.size()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(got == std::string(sent.rbegin(), sent.rend())) << got.size();

  box->stop_process(web_handle);
  box->destroy();
  EXPECT_THROW(Poco::Net::StreamSocket(Poco::Net::SocketAddress("127.0.0.1", web_port)),
               Poco::Exception);

  auto offline = start("portoff", Limits{}, false);
  EXPECT_THROW(offline->expose_port(8000), std::runtime_error);
}

TEST_F(DockerDriverTest, NetworkOffMeansLoopbackOnly) {
  auto off = start("netoff", Limits{}, false);
  EXPECT_EQ(off->exec(sh("ls /sys/class/net")).stdout_data, "lo\n");
  auto on = start("neton", Limits{}, true);
  EXPECT_NE(on->exec(sh("ls /sys/class/net")).stdout_data.find("eth0"), std::string::npos);
}

TEST_F(DockerDriverTest, LimitsReachTheContainer) {
  Limits lim;
  lim.memory_bytes = 200ull << 20;
  lim.cpu_millis = 250;
  lim.pids = 99;
  lim.disk_bytes = 10ull << 20;
  auto box = start("limits", lim);
  ExecResult r = box->exec(
      sh("cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; "
         "cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || echo noswapacct; "
         "df -k /app /tmp /home/user | tail -3 | while read -r a b c; do echo $b; done"));
  EXPECT_EQ(r.stdout_data, std::to_string(200ull << 20) + "\n99\n" + std::to_string(200ull << 20) +
                               "\n10240\n10240\n10240\n")
      << r.stderr_data;
}

TEST_F(DockerDriverTest, DestroyRemovesTheContainer) {
  BoxSpec spec;
  spec.id = next_id("destroy");
  auto box = driver_->start(spec);
  EXPECT_TRUE(box->alive());
  docker::Client client(kSocket);
  std::string path = "/containers/";
  path += name_prefix();
  path += spec.id;
  path += "/json";
  EXPECT_EQ(client.get(path).status, 200);
  box->destroy();
  EXPECT_FALSE(box->alive());
  EXPECT_EQ(client.get(path).status, 404);
  EXPECT_EQ(status_of([&] { box->exec(sh("true")); }), 409);
  EXPECT_EQ(status_of([&] { box->read_file("/app/x", 10); }), 409);
  box->destroy();  // idempotent
}

TEST_F(DockerDriverTest, AliveTurnsFalseWhenTheContainerDies) {
  BoxSpec spec;
  spec.id = next_id("killed");
  auto box = driver_->start(spec);
  EXPECT_TRUE(box->alive());
  docker::Client client(kSocket);
  std::string path = "/containers/";
  path += name_prefix();
  path += spec.id;
  path += "/kill";
  ASSERT_EQ(client.post(path).status, 204);
  for (int i = 0; i < 100 && box->alive(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(box->alive());
  EXPECT_EQ(status_of([&] { box->exec(sh("true")); }), 409);
}

TEST_F(DockerDriverTest, ReapLeftoversFindsAnEarlierDriversBox) {
  BoxSpec spec;
  spec.id = next_id("leftover");
  Box* leaked = nullptr;
  {
    DockerDriver earlier(config());
    leaked = earlier.start(spec).release();  // as if the server had died
  }
  DockerDriver later(config());
  EXPECT_GE(later.reap_leftovers(), 1);
  EXPECT_FALSE(leaked->alive());
  docker::Client client(kSocket);
  std::string path = "/containers/";
  path += name_prefix();
  path += spec.id;
  path += "/json";
  EXPECT_EQ(client.get(path).status, 404);
  delete leaked;  // its destroy() finds nothing left
  EXPECT_EQ(later.reap_leftovers(), 0);

  // Another prefix's containers are not ours.
  DockerConfig other = config();
  other.name_prefix = "alpaca-test-other-";
  DockerDriver other_driver(other);
  auto box = start("notreaped");
  EXPECT_EQ(other_driver.reap_leftovers(), 0);
  EXPECT_TRUE(box->alive());
}

TEST_F(DockerDriverTest, Timing) {
  const int n = 3;
  long long start_total = 0, first_total = 0, echo_total = 0, echo_min = 1 << 30;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    auto box = start("timing");
    start_total += ms_since(t0);
    auto t1 = Clock::now();
    ExecSpec first;
    first.argv = {"true"};
    EXPECT_EQ(box->exec(first).exit_code, 0);
    first_total += ms_since(t1);
    for (int j = 0; j < 3; ++j) {
      ExecSpec s;
      s.argv = {"echo", "hi"};
      auto t2 = Clock::now();
      ExecResult r = box->exec(s);
      long long took = ms_since(t2);
      EXPECT_EQ(r.stdout_data, "hi\n");
      echo_total += took;
      echo_min = std::min(echo_min, took);
    }
  }
  std::cout << "[ timing ] start() (create -> exec-ready): " << start_total / n
            << " ms avg; first exec: " << first_total / n
            << " ms avg; exec `echo hi`: " << echo_total / (n * 3) << " ms avg, " << echo_min
            << " ms min\n";
}

}  // namespace
}  // namespace sandboxes
