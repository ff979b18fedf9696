#include "db/embedded_postgres.hpp"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "db/pg.hpp"

extern char** environ;

namespace alpaca::db {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kTailLines = 20;

long ms_since(Clock::time_point t0) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* abbrev = sigabbrev_np(WTERMSIG(status));
    return "signal " + std::to_string(WTERMSIG(status)) +
           (abbrev ? std::string(" (SIG") + abbrev + ")" : std::string());
  }
  return "status " + std::to_string(status);
}

// The last `n` lines of `text`, without a trailing newline.
std::string last_lines(const std::string& text, int n) {
  std::deque<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
    if (static_cast<int>(lines.size()) > n) lines.pop_front();
  }
  std::string out;
  for (const auto& l : lines) {
    if (!out.empty()) out += '\n';
    out += l;
  }
  return out;
}

bool is_executable_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

bool has_server_binaries(const fs::path& dir) {
  return is_executable_file(dir / "initdb") && is_executable_file(dir / "postgres");
}

std::optional<passwd> lookup_user(const std::string& name, std::vector<char>& buf) {
  passwd pw{};
  passwd* result = nullptr;
  buf.resize(16384);
  if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &result) != 0 || !result) {
    return std::nullopt;
  }
  return pw;
}

// Moves `fd` to a number >= 3 with FD_CLOEXEC, so that dup2() onto 0..2 in a
// child cannot clobber it.
int high_cloexec_fd(int fd) {
  if (fd >= 3) return fd;
  int nfd = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return nfd;
}

// Everything a forked child needs, prepared before fork(): between fork and
// exec only async-signal-safe calls are allowed (other threads may hold
// malloc's or libc's locks).
struct ChildSpec {
  std::vector<std::string> argv;  // empty: probe_path mode (no exec)
  std::string cwd = "/";
  int stdin_fd = -1;
  int out_fd = -1;  // becomes stdout and stderr
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  int death_signal = SIGKILL;  // sent to the child if we die (PR_SET_PDEATHSIG)
  // No argv: the child exits 0 if it can access(probe_path, probe_mode).
  std::string probe_path;
  int probe_mode = 0;
};

// The environment for children: ours without PG* variables (PGDATA, PGPORT,
// ... must not redirect the cluster).
std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    if (std::strncmp(*e, "PG", 2) == 0) continue;
    env.emplace_back(*e);
  }
  return env;
}

// Child-side failure report: one stage byte plus errno into the status pipe.
[[noreturn]] void child_fail(int status_fd, char stage) {
  int err = errno;
  char buf[2 + sizeof(int)];
  buf[0] = stage;
  std::memcpy(buf + 1, &err, sizeof(int));
  ssize_t ignored = ::write(status_fd, buf, 1 + sizeof(int));
  (void)ignored;
  ::_exit(127);
}

const char* stage_name(char stage) {
  switch (stage) {
    case 'd':
      return "redirecting output";
    case 'g':
      return "setgroups";
    case 'G':
      return "setgid";
    case 'u':
      return "setuid";
    case 'c':
      return "chdir";
    case 'e':
      return "exec";
    default:
      return "preparing the child";
  }
}

// fork + (drop privileges) + exec. Returns the pid; throws std::runtime_error
// when fork fails or the child could not reach exec (that child exits with 127
// and the caller, which learnt its pid through on_forked, must reap it).
// `on_forked(pid)` runs in the parent right after fork (used to publish the
// pid under a lock).
template <typename OnForked>
pid_t spawn_child(const ChildSpec& spec, OnForked&& on_forked) {
  std::vector<std::string> env = child_environment();
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_storage = spec.argv;
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  int status_pipe[2];
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe failed: ") + std::strerror(errno));
  }
  status_pipe[0] = high_cloexec_fd(status_pipe[0]);
  status_pipe[1] = high_cloexec_fd(status_pipe[1]);
  int devnull = high_cloexec_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  const int in_fd = spec.stdin_fd >= 0 ? spec.stdin_fd : devnull;
  const int out_fd = spec.out_fd >= 0 ? spec.out_fd : devnull;

  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid == 0) {
    // ---- child: async-signal-safe calls only from here to exec ----
    const int sfd = status_pipe[1];
    ::setsid();  // own session: a Ctrl-C on the host's terminal is the host's to handle
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
    }
    ::sigprocmask(SIG_SETMASK, &empty_mask, nullptr);
    if (in_fd < 0 || ::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(out_fd, 2) < 0) {
      child_fail(sfd, 'd');
    }
    if (spec.switch_user) {
      if (::setgroups(spec.groups.size(), spec.groups.data()) != 0) child_fail(sfd, 'g');
      if (::setgid(spec.gid) != 0) child_fail(sfd, 'G');
      if (::setuid(spec.uid) != 0) child_fail(sfd, 'u');
    }
    // After the credential change, which clears it.
    ::prctl(PR_SET_PDEATHSIG, spec.death_signal);
    if (::getppid() != parent) ::_exit(126);  // the host is already gone
    if (::chdir(spec.cwd.c_str()) != 0) child_fail(sfd, 'c');
    // Descriptors the host opened without O_CLOEXEC must not leak into postgres.
    if (sfd > 3) ::close_range(3, static_cast<unsigned>(sfd) - 1, 0);
    ::close_range(static_cast<unsigned>(sfd) + 1, ~0U, 0);
    if (argv.size() == 1) {
      ::_exit(::access(spec.probe_path.c_str(), spec.probe_mode) == 0 ? 0 : 1);
    }
    ::execve(argv[0], argv.data(), envp.data());
    child_fail(sfd, 'e');
  }
  const int fork_errno = errno;
  ::close(status_pipe[1]);
  if (devnull >= 0) ::close(devnull);
  if (pid < 0) {
    ::close(status_pipe[0]);
    throw std::runtime_error(std::string("fork failed: ") + std::strerror(fork_errno));
  }
  on_forked(pid);
  // EOF without data: exec succeeded (the pipe closed on exec).
  char buf[1 + sizeof(int)];
  size_t got = 0;
  while (got < sizeof(buf)) {
    ssize_t n = ::read(status_pipe[0], buf + got, sizeof(buf) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(status_pipe[0]);
  if (got == sizeof(buf)) {
    int err = 0;
    std::memcpy(&err, buf + 1, sizeof(int));
    std::string what = std::string(stage_name(buf[0])) + " failed";
    if (buf[0] == 'e') what = "cannot execute " + spec.argv[0];
    throw std::runtime_error(what + ": " + std::strerror(err) +
                             (spec.switch_user && buf[0] != 'e'
                                  ? " (switching to uid " + std::to_string(spec.uid) + ")"
                                  : std::string()));
  }
  return pid;
}

int wait_for_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

// Runs a child to completion, capturing stdout+stderr.
std::pair<int, std::string> run_capture(ChildSpec spec) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe failed: ") + std::strerror(errno));
  }
  out[0] = high_cloexec_fd(out[0]);
  out[1] = high_cloexec_fd(out[1]);
  spec.out_fd = out[1];
  pid_t pid = 0;
  try {
    spawn_child(spec, [&](pid_t child) { pid = child; });
  } catch (...) {
    ::close(out[0]);
    ::close(out[1]);
    if (pid > 0) wait_for_exit(pid);  // it failed before exec and is exiting
    throw;
  }
  ::close(out[1]);
  std::string output;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(out[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  return {wait_for_exit(pid), output};
}

// chown -R without following symlinks; touches only entries that differ.
void chown_tree(const fs::path& root, uid_t uid, gid_t gid) {
  auto fix = [&](const fs::path& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return;
    if (st.st_uid == uid && st.st_gid == gid) return;
    if (::lchown(p.c_str(), uid, gid) != 0) {
      throw std::runtime_error("cannot chown " + p.string() + ": " + std::strerror(errno));
    }
  };
  fix(root);
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    fix(it->path());
  }
  if (ec) throw std::runtime_error("cannot walk " + root.string() + ": " + ec.message());
}

void make_dir(const fs::path& p, mode_t mode) {
  if (::mkdir(p.c_str(), mode) != 0 && errno != EEXIST) {
    throw std::runtime_error("cannot create " + p.string() + ": " + std::strerror(errno));
  }
}

// What postmaster.pid says: line 1 is the postmaster's pid, line 8 (since
// PostgreSQL 10) its status: "starting", "stopping", "ready" or "standby".
struct PidFile {
  pid_t pid = 0;
  std::string status;
};

PidFile read_pid_file(const fs::path& cluster) {
  PidFile out;
  std::ifstream in(cluster / "postmaster.pid");
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (n == 1) out.pid = static_cast<pid_t>(std::atol(line.c_str()));
    if (n == 8) {
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out.status = line;
    }
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- setup

// A postmaster from a previous alpaca-server that died (SIGKILL, crash) may still be shutting
// down, or running. We hold the data dir lock, so no live server owns it: ask it to stop
// (fast shutdown) and wait, instead of failing on "lock file postmaster.pid already exists".
// postgres.log is appended to by every run: keep one previous file once it passes 10 MiB.
void EmbeddedPostgres::rotate_log() {
  std::error_code ec;
  auto size = fs::file_size(log_path(), ec);
  if (ec || size < 10 * 1024 * 1024) return;
  fs::rename(log_path(), log_path() + ".1", ec);
  if (!ec) spdlog::info("rotated {} ({} bytes) to {}.1", log_path(), size, log_path());
}

void EmbeddedPostgres::stop_leftover_postmaster() {
  PidFile pf = read_pid_file(cluster_dir());
  if (pf.pid <= 0 || ::kill(pf.pid, 0) != 0) return;
  std::ifstream cmd("/proc/" + std::to_string(pf.pid) + "/cmdline");
  std::string cmdline((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
  if (cmdline.empty()) {  // a zombie: it has exited, wait until it is reaped
    for (int i = 0; i < 250 && ::kill(pf.pid, 0) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return;
  }
  if (cmdline.find("postgres") == std::string::npos) return;  // pid reused by something else
  spdlog::warn("a PostgreSQL from a previous run (pid {}, {}) is still up; stopping it", pf.pid,
               pf.status.empty() ? "unknown state" : pf.status);
  ::kill(pf.pid, SIGINT);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (::kill(pf.pid, 0) == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (::kill(pf.pid, 0) == 0) {
    ::kill(pf.pid, SIGQUIT);
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

EmbeddedPostgres::EmbeddedPostgres(Options options) : opt_(std::move(options)) {
  if (opt_.data_dir.empty()) throw std::invalid_argument("EmbeddedPostgres: data_dir is empty");
  opt_.data_dir = fs::absolute(opt_.data_dir).lexically_normal().string();
  while (opt_.data_dir.size() > 1 && opt_.data_dir.back() == '/') opt_.data_dir.pop_back();
}

EmbeddedPostgres::~EmbeddedPostgres() {
  try {
    stop();
  } catch (const std::exception& e) {
    spdlog::error("stopping PostgreSQL failed: {}", e.what());
  }
}

std::string EmbeddedPostgres::cluster_dir() const {
  return opt_.data_dir + "/postgres";
}
std::string EmbeddedPostgres::socket_dir() const {
  return opt_.data_dir + "/run";
}
std::string EmbeddedPostgres::log_path() const {
  return opt_.data_dir + "/postgres.log";
}

std::string EmbeddedPostgres::conninfo(const std::string& dbname) const {
  return "host=" + quote_conninfo_value(socket_dir()) + " port=" + std::to_string(opt_.port) +
         " user=postgres dbname=" + quote_conninfo_value(dbname);
}

std::string EmbeddedPostgres::detect_bin_dir() {
  // 1. /usr/lib/postgresql/<N>/bin, highest N first.
  std::vector<std::pair<int, fs::path>> candidates;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/usr/lib/postgresql", ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789.") != std::string::npos) continue;
    candidates.emplace_back(std::atoi(name.c_str()), it->path() / "bin");
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [version, dir] : candidates) {
    if (has_server_binaries(dir)) return dir.string();
  }
  // 2. pg_config --bindir
  std::string pg_config_dir;
  if (FILE* p = ::popen("pg_config --bindir 2>/dev/null", "r")) {
    char buf[4096];
    while (std::fgets(buf, sizeof(buf), p)) pg_config_dir += buf;
    ::pclose(p);
    while (!pg_config_dir.empty() &&
           (pg_config_dir.back() == '\n' || pg_config_dir.back() == '\r')) {
      pg_config_dir.pop_back();
    }
    if (!pg_config_dir.empty() && has_server_binaries(pg_config_dir)) return pg_config_dir;
  }
  // 3. PATH
  if (const char* path = std::getenv("PATH")) {
    std::istringstream in(path);
    std::string dir;
    while (std::getline(in, dir, ':')) {
      if (!dir.empty() && has_server_binaries(dir)) return dir;
    }
  }
  throw std::runtime_error(
      "cannot find the PostgreSQL server programs (initdb, postgres): searched "
      "/usr/lib/postgresql/*/bin, `pg_config --bindir`" +
      (pg_config_dir.empty() ? std::string() : " (" + pg_config_dir + ")") +
      " and PATH; install the PostgreSQL server (e.g. apt install postgresql) or set "
      "postgres.bin_dir");
}

void EmbeddedPostgres::prepare_directories() {
  const fs::path data(opt_.data_dir);
  std::error_code ec;
  if (!fs::is_directory(data, ec)) {
    fs::create_directories(data.parent_path(), ec);
    make_dir(data, 0700);
  }
  make_dir(cluster_dir(), 0700);
  make_dir(socket_dir(), 0700);
  ::chmod(socket_dir().c_str(), 0700);
  if (!run_as_.switch_user) return;

  chown_tree(cluster_dir(), run_as_.uid, run_as_.gid);
  chown_tree(socket_dir(), run_as_.uid, run_as_.gid);
  struct stat st {};
  if (::stat(data.c_str(), &st) == 0 && st.st_uid != run_as_.uid && !(st.st_mode & S_IXOTH)) {
    const mode_t mode = (st.st_mode & 07777) | S_IXOTH;
    if (::chmod(data.c_str(), mode) != 0) {
      throw std::runtime_error("cannot chmod " + data.string() + ": " + std::strerror(errno));
    }
    spdlog::info(
        "made data directory {} traversable (mode {:04o}) so that PostgreSQL, "
        "running as OS user '{}', can reach {}",
        data.string(), mode, run_as_.name, cluster_dir());
  }

  // Can the OS user actually get there? (Ancestors such as /root are often 0700.)
  ChildSpec probe;
  probe.switch_user = true;
  probe.uid = run_as_.uid;
  probe.gid = run_as_.gid;
  probe.groups = run_as_.groups;
  probe.probe_path = cluster_dir();
  probe.probe_mode = R_OK | W_OK | X_OK;
  auto [status, output] = run_capture(probe);
  if (status != 0) {
    std::string blocker;
    for (fs::path p = data.parent_path(); !p.empty(); p = p.parent_path()) {
      struct stat ps {};
      if (::stat(p.c_str(), &ps) == 0 && !(ps.st_mode & S_IXOTH) && ps.st_uid != run_as_.uid) {
        blocker = p.string();
      }
      if (p == p.root_path()) break;
    }
    throw std::runtime_error(
        "PostgreSQL runs as OS user '" + run_as_.name + "', which cannot reach " + cluster_dir() +
        (blocker.empty() ? std::string() : " (" + blocker + " is not searchable by other users)") +
        "; choose a data directory that user can reach (e.g. under /var/lib) or grant it "
        "search permission");
  }
}

void EmbeddedPostgres::init_cluster_if_needed() {
  const fs::path cluster(cluster_dir());
  std::error_code ec;
  if (fs::exists(cluster / "PG_VERSION", ec)) return;
  spdlog::info("initializing a new PostgreSQL cluster in {}", cluster.string());
  const auto t0 = Clock::now();
  ChildSpec spec;
  spec.argv = {bin_dir_ + "/initdb",
               "-D",
               cluster.string(),
               "-U",
               "postgres",
               "-E",
               "UTF8",
               "--locale=C.UTF-8",
               "--auth-local=trust",
               "--auth-host=scram-sha-256",
               "-N"};
  spec.cwd = opt_.data_dir;
  spec.switch_user = run_as_.switch_user;
  spec.uid = run_as_.uid;
  spec.gid = run_as_.gid;
  spec.groups = run_as_.groups;
  auto [status, output] = run_capture(spec);
  if (status != 0) {
    throw std::runtime_error("initdb failed (" + describe_status(status) + ") for " +
                             cluster.string() + ":\n" + last_lines(output, kTailLines));
  }
  spdlog::info("PostgreSQL cluster initialized in {} ms", ms_since(t0));
}

// ---------------------------------------------------------------- start / stop

void EmbeddedPostgres::start() {
  std::lock_guard lifecycle(lifecycle_mu_);
  {
    std::lock_guard lk(mu_);
    if (supervisor_.joinable()) return;
  }
  // sockaddr_un.sun_path holds 107 characters; postgres would only say
  // "path too long" in its log.
  const std::string socket_file = socket_dir() + "/.s.PGSQL." + std::to_string(opt_.port);
  if (socket_file.size() > 107) {
    throw std::runtime_error("the data directory path is too long for PostgreSQL's unix socket " +
                             socket_file + " (" + std::to_string(socket_file.size()) +
                             " characters, the limit is 107); choose a shorter data directory");
  }
  bin_dir_ = opt_.bin_dir.empty() ? detect_bin_dir() : opt_.bin_dir;
  if (!has_server_binaries(bin_dir_)) {
    throw std::runtime_error("postgres.bin_dir " + bin_dir_ +
                             " does not contain the PostgreSQL server programs initdb and "
                             "postgres");
  }

  run_as_ = RunAs{};
  if (::geteuid() == 0) {
    std::vector<char> buf;
    std::optional<passwd> pw;
    std::string name = opt_.os_user;
    if (name.empty()) {
      name = "alpaca";
      pw = lookup_user(name, buf);
      if (!pw) {
        name = "postgres";
        pw = lookup_user(name, buf);
      }
      if (!pw) {
        throw std::runtime_error(
            "PostgreSQL refuses to run as root and neither an 'alpaca' nor a 'postgres' OS "
            "account exists; create one (e.g. useradd --system --home-dir /var/lib/alpaca "
            "alpaca) or set postgres.os_user");
      }
    } else {
      pw = lookup_user(name, buf);
      if (!pw) {
        throw std::runtime_error("postgres.os_user '" + name +
                                 "' is not an OS account; create it or set postgres.os_user "
                                 "to an existing unprivileged user");
      }
    }
    if (pw->pw_uid == 0) {
      throw std::runtime_error("postgres.os_user '" + name +
                               "' is root; PostgreSQL refuses to run as root, choose an "
                               "unprivileged account");
    }
    run_as_.switch_user = true;
    run_as_.uid = pw->pw_uid;
    run_as_.gid = pw->pw_gid;
    run_as_.name = name;
    int n = 64;
    run_as_.groups.resize(static_cast<size_t>(n));
    while (::getgrouplist(name.c_str(), run_as_.gid, run_as_.groups.data(), &n) < 0) {
      run_as_.groups.resize(static_cast<size_t>(n) + 16);
      n = static_cast<int>(run_as_.groups.size());
    }
    run_as_.groups.resize(static_cast<size_t>(n));
  }

  prepare_directories();
  init_cluster_if_needed();
  stop_leftover_postmaster();
  rotate_log();

  std::unique_lock lk(mu_);
  stopping_ = false;
  first_start_done_ = false;
  first_start_error_.clear();
  supervisor_ = std::thread([this] { supervise(); });
  cv_.wait(lk, [&] { return first_start_done_; });
  if (!first_start_error_.empty()) {
    std::string err = first_start_error_;
    lk.unlock();
    supervisor_.join();  // it returns right after a failed first start
    throw std::runtime_error(err);
  }
}

void EmbeddedPostgres::stop() {
  std::lock_guard lifecycle(lifecycle_mu_);
  std::unique_lock lk(mu_);
  if (!supervisor_.joinable()) return;
  stopping_ = true;
  const pid_t pid = pid_.load();
  if (pid > 0) {
    spdlog::info("stopping PostgreSQL (pid {})", pid);
    ::kill(pid, SIGINT);  // fast shutdown: abort transactions, checkpoint, exit
  }
  cv_.notify_all();
  auto gone = [&] { return pid_.load() == 0; };
  if (!cv_.wait_for(lk, 30s, gone)) {
    spdlog::warn("PostgreSQL did not stop within 30 s; sending SIGQUIT");
    ::kill(pid_.load(), SIGQUIT);
    if (!cv_.wait_for(lk, 5s, gone)) {
      spdlog::warn("PostgreSQL did not quit; sending SIGKILL");
      ::kill(pid_.load(), SIGKILL);
      cv_.wait(lk, gone);
    }
  }
  lk.unlock();
  supervisor_.join();
  ready_ = false;
  if (pid > 0) spdlog::info("PostgreSQL stopped");
}

// ---------------------------------------------------------------- supervision

pid_t EmbeddedPostgres::spawn_postmaster(std::string* error) {
  std::map<std::string, std::string> settings = {
      {"max_connections", "200"},
      {"shared_buffers", "128MB"},
      {"listen_addresses", opt_.listen_addresses},
      {"unix_socket_permissions", "0700"},
  };
  for (const auto& [k, v] : opt_.settings) settings[k] = v;

  ChildSpec spec;
  spec.argv = {bin_dir_ + "/postgres",   "-D", cluster_dir(), "-k", socket_dir(), "-p",
               std::to_string(opt_.port)};
  for (const auto& [k, v] : settings) {
    spec.argv.push_back("-c");
    spec.argv.push_back(k + "=" + v);
  }
  spec.cwd = cluster_dir();
  spec.switch_user = run_as_.switch_user;
  spec.uid = run_as_.uid;
  spec.gid = run_as_.gid;
  spec.groups = run_as_.groups;
  spec.death_signal = SIGINT;  // if the host dies, PostgreSQL shuts down cleanly

  int log_fd = ::open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    *error = "cannot open " + log_path() + ": " + std::strerror(errno);
    return 0;
  }
  log_fd = high_cloexec_fd(log_fd);
  struct stat st {};
  ::fstat(log_fd, &st);
  spec.out_fd = log_fd;

  pid_t pid = 0;
  try {
    bool skipped = false;
    std::unique_lock lk(mu_, std::defer_lock);
    // The lock is held from the stopping_ check until pid_ is published, so
    // stop() either prevents this spawn or sees (and signals) its pid.
    lk.lock();
    if (stopping_) {
      skipped = true;
    } else {
      log_offset_ = static_cast<long>(st.st_size);
      pid = spawn_child(spec, [&](pid_t child) {
        pid_ = child;
        lk.unlock();
      });
    }
    if (lk.owns_lock()) lk.unlock();
    if (skipped) {
      ::close(log_fd);
      return 0;
    }
  } catch (const std::exception& e) {
    ::close(log_fd);
    // A child that failed before exec is gone or going: reap it.
    const pid_t child = pid_.load();
    if (child > 0) {
      int status;
      reap(child, &status);
    }
    *error = std::string("cannot start postgres: ") + e.what();
    return 0;
  }
  ::close(log_fd);
  return pid;
}

EmbeddedPostgres::Outcome EmbeddedPostgres::wait_until_ready(pid_t pid) {
  const auto deadline = Clock::now() + opt_.start_timeout;
  const std::string ping = conninfo("postgres") + " connect_timeout=2";
  for (;;) {
    siginfo_t info{};
    int rc = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
    if ((rc == 0 && info.si_pid == pid) || (rc < 0 && errno == ECHILD)) return Outcome::kExited;
    {
      std::lock_guard lk(mu_);
      if (stopping_) return Outcome::kStopping;
    }
    // Another postmaster (say, an orphan of a crashed host) may answer on the
    // same socket while ours fails on the lock file: the pid file must name
    // ours. Pinging only once it no longer says "starting" keeps "the database
    // system is starting up" lines out of postgres.log.
    const PidFile pf = read_pid_file(cluster_dir());
    if (pf.pid == pid && pf.status != "starting" && pf.status != "stopping" &&
        PQping(ping.c_str()) == PQPING_OK) {
      return Outcome::kReady;
    }
    if (Clock::now() >= deadline) return Outcome::kTimedOut;
    if (!sleep_unless_stopping(20ms)) return Outcome::kStopping;
  }
}

void EmbeddedPostgres::reap(pid_t pid, int* status) {
  // Wait without reaping, so the pid cannot be recycled while stop() may
  // still signal it; then clear pid_ and reap under the lock.
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
  }
  {
    std::lock_guard lk(mu_);
    *status = 0;
    while (::waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
    if (pid_.load() == pid) pid_ = 0;
  }
  cv_.notify_all();
}

bool EmbeddedPostgres::sleep_unless_stopping(std::chrono::milliseconds d) {
  std::unique_lock lk(mu_);
  return !cv_.wait_for(lk, d, [&] { return stopping_; });
}

std::string EmbeddedPostgres::log_tail_since(long offset) const {
  std::ifstream in(log_path(), std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  const long size = static_cast<long>(in.tellg());
  long from = std::max(offset, size - 16384L);
  if (from < 0 || from > size) from = 0;
  in.seekg(from);
  std::string text(static_cast<size_t>(size - from), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  return last_lines(text, kTailLines);
}

void EmbeddedPostgres::supervise() {
  bool first = true;
  auto backoff = std::chrono::milliseconds(500);
  auto finish_first = [&](std::string error) {
    std::lock_guard lk(mu_);
    first_start_done_ = true;
    first_start_error_ = std::move(error);
    cv_.notify_all();
  };

  for (;;) {
    const auto t0 = Clock::now();
    std::string error;
    const pid_t pid = spawn_postmaster(&error);
    long log_offset;
    {
      std::lock_guard lk(mu_);
      log_offset = log_offset_;
      if (pid == 0 && stopping_) {
        if (first) finish_first("PostgreSQL start was cancelled by stop()");
        return;
      }
    }
    if (pid == 0) {
      if (first) return finish_first(error);
      error += "; retrying in " + std::to_string(backoff.count()) + " ms";
    } else {
      Outcome outcome = wait_until_ready(pid);
      while (!first && outcome == Outcome::kTimedOut) {
        // A restart may spend a long time in crash recovery: keep waiting.
        spdlog::warn("PostgreSQL (pid {}) is not accepting connections yet after {} ms", pid,
                     ms_since(t0));
        outcome = wait_until_ready(pid);
      }
      if (outcome == Outcome::kReady) {
        ready_ = true;
        spdlog::info("PostgreSQL (pid {}) is accepting connections on {} ({} ms)", pid,
                     socket_dir(), ms_since(t0));
        if (first) finish_first({});
        first = false;
        const auto up_since = Clock::now();
        int status;
        reap(pid, &status);
        ready_ = false;
        {
          std::lock_guard lk(mu_);
          if (stopping_) return;
        }
        if (Clock::now() - up_since > 60s) backoff = 500ms;
        error = "PostgreSQL (pid " + std::to_string(pid) + ") exited unexpectedly (" +
                describe_status(status) + ")";
      } else {
        if (outcome == Outcome::kTimedOut) {
          // Only on the first start: give up on this child.
          ::kill(pid, SIGQUIT);
          for (int i = 0; i < 250; ++i) {
            siginfo_t info{};
            if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                info.si_pid == pid) {
              break;
            }
            std::this_thread::sleep_for(20ms);
          }
          ::kill(pid, SIGKILL);
        }
        int status;
        reap(pid, &status);  // kStopping: stop() has signalled it
        if (outcome == Outcome::kStopping) {
          if (first) finish_first("PostgreSQL start was cancelled by stop()");
          return;
        }
        error = outcome == Outcome::kTimedOut
                    ? "PostgreSQL did not accept connections within " +
                          std::to_string(opt_.start_timeout.count()) + " ms"
                    : "PostgreSQL exited during startup (" + describe_status(status) + ")";
      }
      const std::string tail = log_tail_since(log_offset);
      if (first) {
        if (!tail.empty()) error += "; last lines of " + log_path() + ":\n" + tail;
        return finish_first(error);
      }
      error += "; restarting in " + std::to_string(backoff.count()) + " ms";
      if (!tail.empty()) error += "; last lines of " + log_path() + ":\n" + tail;
    }
    spdlog::error("{}", error);
    if (!sleep_unless_stopping(backoff)) return;
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, 10s);
  }
}

}  // namespace alpaca::db
