#include "bwrap_driver.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>

#include "box_files.hpp"
#include "process.hpp"

namespace sandboxes {

namespace {

using clock = std::chrono::steady_clock;

// Where an exec's helper finds the box's namespace descriptors (ipc, uts, net, pid, mnt, user).
const int kNsFdBase = 10;

const char* kPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::vector<std::string> box_env(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::map<std::string, std::string> env = {
      {"PATH", kPath},
      {"HOME", "/home/user"},
      {"USER", "user"},
      {"LOGNAME", "user"},
      {"LANG", "C.UTF-8"},
      {"SHELL", "/bin/sh"},
      {"TMPDIR", "/tmp"},
      // Debian marks its Python as externally managed; in a throwaway box pip may install.
      {"PIP_BREAK_SYSTEM_PACKAGES", "1"},
      {"PIP_USER", "1"},
      {"PYTHONUNBUFFERED", "1"},
      {"NPM_CONFIG_PREFIX", "/home/user/.npm-global"},
  };
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

// Reads until `until` appears or the pipe ends; false at the deadline.
bool read_until(int fd, std::string& into, const char* until, clock::time_point deadline) {
  char buf[4096];
  while (into.find(until) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    into.append(buf, size_t(n));
  }
  return true;
}

std::string drain(int fd) {
  std::string s;
  char buf[4096];
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) s.append(buf, size_t(n));
  return s;
}

// The host's own IPv4 addresses: a box must not reach the server through them either.
std::vector<std::string> host_addresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN];
    auto* in = reinterpret_cast<sockaddr_in*>(a->ifa_addr);
    if (::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text))
      out.push_back(std::string(text) + "/32");
  }
  ::freeifaddrs(list);
  return out;
}

// The box's /etc: one user (1000), localhost, and slirp4netns's DNS forwarder.
std::vector<std::pair<std::string, std::string>> etc_files() {
  return {
      {"passwd",
       "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
       "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"},
      {"group", "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n"},
      {"hosts", "127.0.0.1 localhost sandbox\n::1 localhost\n"},
      {"resolv.conf", "nameserver 10.0.2.3\n"},
      {"nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n"},
  };
}

class BwrapBox : public Box {
 public:
  BwrapBox(const BwrapConfig& cfg, BoxSpec spec) : cfg_(cfg), spec_(std::move(spec)) {}
  // Descriptors stay open until the last user is gone: destroy() may overlap an exec.
  ~BwrapBox() override {
    destroy();
    for (int fd : ns_fds_) ::close(fd);
    close_fd(root_fd_);
  }

  void boot();

  ExecResult exec(const ExecSpec& s) override;
  uint64_t spawn(const ExecSpec& s, const std::string& log_path) override;
  bool process_running(uint64_t handle, int* exit_code) override;
  void stop_process(uint64_t handle) override;
  uint16_t expose_port(uint16_t box_port) override;
  std::string read_file(const std::string& path, size_t max_bytes) override {
    check_running();
    return read_box_file(root_fd_, path, max_bytes, cfg_.host_uid, cfg_.host_gid);
  }
  void write_file(const std::string& path, const std::string& data) override {
    check_running();
    write_box_file(root_fd_, path, data, cfg_.host_uid, cfg_.host_gid);
  }
  bool alive() override;
  void destroy() override;

 private:
  void check_running() {
    if (!alive()) throw BoxError(409, "Sandbox is not running", "Its processes are gone");
  }
  std::vector<std::string> enter_argv(const ExecSpec& s, const std::string& leaf,
                                      const std::string& log_path);
  void open_namespaces();
  void start_network();
  void block_ranges();

  const BwrapConfig& cfg_;
  BoxSpec spec_;
  pid_t bwrap_pid_ = -1;  // our child: bwrap outside the namespaces
  pid_t init_pid_ = -1;   // pid 1 of the box, as the host sees it
  // The box's namespaces (ipc, uts, net, pid, mnt, user) and root, opened once at boot: execs
  // and file access go through these, never through a pid that could be reused.
  std::vector<int> ns_fds_;
  int root_fd_ = -1;
  int life_fd_ = -1;  // the box lives while this is open
  pid_t slirp_pid_ = -1;
  int slirp_exit_fd_ = -1;  // slirp4netns exits when this closes (also if the server dies)
  std::string api_socket_;
  std::atomic<uint64_t> next_leaf_{1};
  std::mutex mu_;
  bool destroyed_ = false;
  bool exited_ = false;
  struct Spawned {
    pid_t pid;
    std::string leaf;
    bool done = false;
    int code = -1;
  };
  std::map<uint64_t, Spawned> spawned_;
};

void BwrapBox::boot() {
  std::vector<std::string> cgroup_files;
  if (cfg_.cgroups) {
    cfg_.cgroups->create_box(spec_.id, spec_.limits);
    cgroup_files = cfg_.cgroups->create_leaf(spec_.id, "init");
  }
  int info[2];
  if (::pipe2(info, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> a = {cfg_.helper, "start"};
  for (const auto& f : cgroup_files) {
    a.push_back("--cgroup");
    a.push_back(f);
  }
  if (::geteuid() == 0) {
    a.insert(a.end(),
             {"--uid", std::to_string(cfg_.host_uid), "--gid", std::to_string(cfg_.host_gid)});
  }
  std::string disk = std::to_string(spec_.limits.disk_bytes);
  a.insert(a.end(), {"--seccomp-fd", "4", "--", cfg_.bwrap, "--unshare-user", "--unshare-pid",
                     "--unshare-ipc", "--unshare-uts", "--unshare-net", "--unshare-cgroup-try",
                     "--die-with-parent", "--new-session", "--uid", "1000", "--gid", "1000",
                     "--hostname", "sandbox"});
  for (const auto& p : cfg_.ro_binds) a.insert(a.end(), {"--ro-bind-try", p, p});
  for (const char* l : {"bin", "lib", "lib64", "sbin"})
    a.insert(a.end(), {"--symlink", std::string("usr/") + l, std::string("/") + l});
  // /etc files come as memfds: bwrap runs as the box's host uid, which may not be allowed to
  // read anything under the data dir.
  std::vector<std::pair<int, int>> etc_fds;
  const int readyfd = 5;  // single digits: the init's sh (dash) takes no more
  const int lifefd = 6;
  int next_fd = 7;
  for (const auto& [name, text] : etc_files()) {
    int fd = ::memfd_create(name.c_str(), MFD_CLOEXEC);
    if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
        ::lseek(fd, 0, SEEK_SET) != 0) {
      if (fd >= 0) ::close(fd);
      for (auto& [ours, theirs] : etc_fds) ::close(ours);
      throw std::runtime_error("cannot prepare the sandbox's /etc");
    }
    etc_fds.emplace_back(fd, next_fd);
    a.insert(a.end(), {"--ro-bind-data", std::to_string(next_fd), "/etc/" + name});
    ++next_fd;
  }
  // No --dev: a devpts mount would make bwrap nest a second user namespace, and then the
  // network namespace could not be joined by its owner.
  a.insert(a.end(), {"--proc", "/proc", "--dir", "/dev"});
  for (const char* d : {"null", "zero", "full", "random", "urandom"})
    a.insert(a.end(), {"--dev-bind-try", std::string("/dev/") + d, std::string("/dev/") + d});
  a.insert(a.end(), {"--symlink", "/proc/self/fd", "/dev/fd", "--perms", "1777", "--size", disk,
                     "--tmpfs", "/dev/shm"});
  a.insert(a.end(),
           {"--perms", "1777", "--size", disk, "--tmpfs", "/tmp", "--perms", "0755", "--size", disk,
            "--tmpfs", "/app", "--perms", "0755", "--size", disk, "--tmpfs", "/home/user"});
  for (const auto& m : spec_.mounts)
    a.insert(a.end(), {m.read_only ? "--ro-bind" : "--bind", m.host_path, m.box_path});
  // bwrap reports the init's pid before it builds the box's file system; the init says when the
  // box is complete (pid 1 runs it only then) on the ready pipe, and closes it. Then it waits
  // for the end of the life pipe, whose other end only the server holds: when the server closes
  // it or dies (even by SIGKILL), the init ends, and with it bwrap's pid 1 and the whole pid
  // namespace. (--die-with-parent alone lets the box outlive a killed outer bwrap.)
  a.insert(a.end(), {"--remount-ro", "/", "--seccomp", "4", "--info-fd", "3", "--chdir", "/app",
                     "--", "sh", "-c", "printf 1 >&5; exec 5>&-; read _ <&6; exec 6<&-"});
  int ready[2], life[2];
  if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(life, O_CLOEXEC) != 0) {
    for (auto& [ours, theirs] : etc_fds) ::close(ours);
    throw std::runtime_error("pipe failed");
  }
  life_fd_ = life[1];

  SpawnOptions opt;
  opt.argv = a;
  opt.env = box_env({});
  opt.fds = {{info[1], 3}, {ready[1], readyfd}, {life[0], lifefd}};
  opt.fds.insert(opt.fds.end(), etc_fds.begin(), etc_fds.end());
  Child c;
  try {
    c = spawn_lasting_child(opt);
  } catch (...) {
    for (int fd : {info[0], info[1], ready[0], ready[1], life[0]}) ::close(fd);
    for (auto& [ours, theirs] : etc_fds) ::close(ours);
    throw;
  }
  ::close(info[1]);
  ::close(ready[1]);
  ::close(life[0]);
  for (auto& [ours, theirs] : etc_fds) ::close(ours);
  close_fd(c.out);
  bwrap_pid_ = c.pid;
  std::string text;
  auto deadline = clock::now() + std::chrono::seconds(10);
  bool ok = read_until(info[0], text, "}", deadline);
  ::close(info[0]);
  auto at = text.find("\"child-pid\"");
  if (ok && at != std::string::npos)
    init_pid_ = static_cast<pid_t>(std::atol(text.c_str() + text.find(':', at) + 1));
  std::string ready_text;
  ok = init_pid_ > 0 && read_until(ready[0], ready_text, "1", deadline);
  ::close(ready[0]);
  if (!ok) {
    ::kill(bwrap_pid_, SIGKILL);
    std::string why = drain(c.err);
    close_fd(c.err);
    throw std::runtime_error("bubblewrap did not start the sandbox" +
                             (why.empty() ? std::string() : ": " + why));
  }
  close_fd(c.err);
  open_namespaces();
  // Only now: netlink work in the box's namespace while bwrap still sets up its loopback makes
  // either fail now and then.
  if (spec_.network) start_network();
}

void BwrapBox::open_namespaces() {
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, init_pid_, 0));
  if (pidfd < 0) throw std::runtime_error("the sandbox's init ended at once");
  std::string proc = "/proc/" + std::to_string(init_pid_);
  for (const char* ns : {"ipc", "uts", "net", "pid", "mnt", "user"}) {
    int fd = ::open((proc + "/ns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    ns_fds_.push_back(fd);
  }
  root_fd_ = ::open((proc + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  // Still the same process after the opens (a pidfd turns readable when it exits)?
  pollfd p{pidfd, POLLIN, 0};
  bool exited = ::poll(&p, 1, 0) != 0;
  ::close(pidfd);
  if (exited || ns_fds_.size() != 6 || root_fd_ < 0)
    throw std::runtime_error("the sandbox's init ended while it was being set up");
}

void BwrapBox::start_network() {
  int ready[2], exitp[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  if (::pipe2(exitp, O_CLOEXEC) != 0) {
    ::close(ready[0]);
    ::close(ready[1]);
    throw std::runtime_error("pipe failed");
  }
  api_socket_ = cfg_.run_dir + "/" + spec_.id + ".net";
  ::unlink(api_socket_.c_str());
  SpawnOptions opt;
  opt.argv = {cfg_.slirp4netns,
              "--configure",
              "--mtu=65520",
              "--disable-host-loopback",
              "--enable-sandbox",
              "--enable-seccomp",
              "--ready-fd",
              "3",
              "--exit-fd",
              "4",
              "--api-socket",
              api_socket_,
              std::to_string(init_pid_),
              "tap0"};
  opt.env = {std::string("PATH=") + kPath};
  opt.fds = {{ready[1], 3}, {exitp[0], 4}};
  Child c;
  try {
    c = spawn_child(opt);
  } catch (...) {
    for (int fd : {ready[0], ready[1], exitp[0], exitp[1]}) ::close(fd);
    throw;
  }
  ::close(ready[1]);
  ::close(exitp[0]);
  slirp_pid_ = c.pid;
  slirp_exit_fd_ = exitp[1];
  std::string text;
  bool ok = read_until(ready[0], text, "1", clock::now() + std::chrono::seconds(10));
  ::close(ready[0]);
  std::string why = ok ? "" : drain(c.err);
  close_fd(c.out);
  close_fd(c.err);
  if (!ok) throw std::runtime_error("slirp4netns did not set up the network: " + why);
  block_ranges();
}

void BwrapBox::block_ranges() {
  std::string batch;
  for (const auto& cidr : cfg_.blocked_cidrs) batch += "route replace blackhole " + cidr + "\n";
  for (const auto& cidr : host_addresses()) batch += "route replace blackhole " + cidr + "\n";
  SpawnOptions opt;
  opt.argv = {cfg_.nsenter, "--net=/proc/" + std::to_string(init_pid_) + "/ns/net",
              "--",         cfg_.ip,
              "-force",     "-batch",
              "-"};
  opt.env = {std::string("PATH=") + kPath};
  opt.pipe_stdin = true;
  Child c = spawn_child(opt);
  Collected r = collect_child(
      c, batch, clock::now() + std::chrono::seconds(10), 65536, [&] { ::kill(c.pid, SIGKILL); },
      [] {});
  if (r.status != 0)
    throw std::runtime_error("cannot block private ranges in the sandbox network: " + r.err);
}

std::vector<std::string> BwrapBox::enter_argv(const ExecSpec& s, const std::string& leaf,
                                              const std::string& log_path) {
  std::vector<std::string> a = {cfg_.helper, "exec", "--ns-fds", std::to_string(kNsFdBase)};
  if (cfg_.cgroups) {
    for (const auto& f : cfg_.cgroups->create_leaf(spec_.id, leaf)) {
      a.push_back("--cgroup");
      a.push_back(f);
    }
  }
  a.insert(a.end(), {"--uid", "1000", "--gid", "1000", "--cwd", s.cwd.empty() ? "/app" : s.cwd});
  if (!log_path.empty()) a.insert(a.end(), {"--log", log_path});
  a.push_back("--");
  a.insert(a.end(), s.argv.begin(), s.argv.end());
  return a;
}

ExecResult BwrapBox::exec(const ExecSpec& s) {
  check_running();
  std::string leaf = "x";
  leaf += std::to_string(next_leaf_++);
  auto started = clock::now();
  SpawnOptions opt;
  opt.argv = enter_argv(s, leaf, "");
  opt.env = box_env(s.env);
  opt.pipe_stdin = true;
  for (size_t i = 0; i < ns_fds_.size(); ++i) opt.fds.emplace_back(ns_fds_[i], kNsFdBase + int(i));
  Child c = spawn_child(opt);
  auto kill_tree = [&] {
    if (cfg_.cgroups)
      cfg_.cgroups->kill_all(spec_.id, leaf);
    else
      ::kill(c.pid, SIGKILL);
  };
  Collected r = collect_child(c, s.stdin_data, started + std::chrono::milliseconds(s.timeout_ms),
                              s.output_limit, kill_tree, kill_tree);
  // The kernel counts an OOM kill in the victim's own cgroup (on v1 only there): the leaf.
  bool oom = cfg_.cgroups && cfg_.cgroups->oom_kills(spec_.id + "/" + leaf) > 0;
  if (cfg_.cgroups) cfg_.cgroups->remove_leaf(spec_.id, leaf);
  ExecResult out;
  out.duration_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started).count());
  out.stdout_data = std::move(r.out);
  out.stderr_data = std::move(r.err);
  out.truncated = r.truncated;
  out.timed_out = r.timed_out;
  out.exit_code = r.status;
  if (r.timed_out) {
    out.exit_code = 137;
    if (!out.stderr_data.empty() && out.stderr_data.back() != '\n') out.stderr_data += '\n';
    out.stderr_data += "alpaca: timed out after " + std::to_string(s.timeout_ms) +
                       " ms; the process tree was killed\n";
  } else if (oom) {
    out.out_of_memory = true;
    if (!out.stderr_data.empty() && out.stderr_data.back() != '\n') out.stderr_data += '\n';
    out.stderr_data += "alpaca: a process was killed: out of memory (the sandbox's limit is " +
                       std::to_string(spec_.limits.memory_bytes >> 20) + " MB)\n";
  }
  return out;
}

uint64_t BwrapBox::spawn(const ExecSpec& s, const std::string& log_path) {
  check_running();
  uint64_t handle = next_leaf_++;
  std::string leaf = "p";
  leaf += std::to_string(handle);
  SpawnOptions opt;
  opt.argv = enter_argv(s, leaf, log_path.empty() ? "/tmp/process.log" : log_path);
  opt.env = box_env(s.env);
  opt.pipe_output = false;
  for (size_t i = 0; i < ns_fds_.size(); ++i) opt.fds.emplace_back(ns_fds_[i], kNsFdBase + int(i));
  Child c = spawn_child(opt);
  std::lock_guard<std::mutex> lock(mu_);
  spawned_[handle] = Spawned{c.pid, leaf};
  return handle;
}

bool BwrapBox::process_running(uint64_t handle, int* exit_code) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = spawned_.find(handle);
  if (it == spawned_.end()) throw BoxError(404, "No such process");
  Spawned& p = it->second;
  if (!p.done) {
    int status = 0;
    if (::waitpid(p.pid, &status, WNOHANG) == p.pid) {
      p.done = true;
      p.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
  if (p.done && exit_code) *exit_code = p.code;
  return !p.done;
}

void BwrapBox::stop_process(uint64_t handle) {
  Spawned p;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = spawned_.find(handle);
    if (it == spawned_.end()) return;
    p = it->second;
    spawned_.erase(it);
  }
  if (cfg_.cgroups) cfg_.cgroups->kill_all(spec_.id, p.leaf);
  ::kill(p.pid, SIGKILL);
  if (!p.done) wait_child(p.pid);
  if (cfg_.cgroups) cfg_.cgroups->remove_leaf(spec_.id, p.leaf);
}

uint16_t BwrapBox::expose_port(uint16_t box_port) {
  if (api_socket_.empty())
    throw BoxError(409, "The sandbox has no network", "Ports need sandboxes.network=true");
  // A free loopback port: bind to 0, read it, close (slirp4netns binds it right after).
  int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(probe, reinterpret_cast<sockaddr*>(&addr), &len);
  uint16_t host_port = ntohs(addr.sin_port);
  ::close(probe);

  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::strncpy(un.sun_path, api_socket_.c_str(), sizeof un.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&un), sizeof un) != 0) {
    ::close(fd);
    throw BoxError(500, "Cannot reach the sandbox's network helper");
  }
  std::string cmd =
      "{\"execute\": \"add_hostfwd\", \"arguments\": {\"proto\": \"tcp\", "
      "\"host_addr\": \"127.0.0.1\", \"host_port\": " +
      std::to_string(host_port) + ", \"guest_port\": " + std::to_string(box_port) + "}}";
  ssize_t w = ::write(fd, cmd.data(), cmd.size());
  ::shutdown(fd, SHUT_WR);
  std::string reply;
  read_until(fd, reply, "}", clock::now() + std::chrono::seconds(5));
  ::close(fd);
  if (w < 0 || reply.find("\"error\"") != std::string::npos || reply.empty())
    throw BoxError(500, "Cannot expose the port", reply);
  return host_port;
}

bool BwrapBox::alive() {
  std::lock_guard<std::mutex> lock(mu_);
  if (destroyed_ || exited_ || bwrap_pid_ < 0) return false;
  int status = 0;
  if (::waitpid(bwrap_pid_, &status, WNOHANG) == bwrap_pid_) {
    exited_ = true;
    return false;
  }
  return true;
}

void BwrapBox::destroy() {
  std::map<uint64_t, Spawned> spawned;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (destroyed_) return;
    destroyed_ = true;
    spawned.swap(spawned_);
  }
  close_fd(life_fd_);
  if (cfg_.cgroups) cfg_.cgroups->remove_box(spec_.id);
  if (bwrap_pid_ > 0) {
    ::kill(bwrap_pid_, SIGKILL);  // --die-with-parent takes the box's pid 1, and so the rest
    if (!exited_) wait_child(bwrap_pid_);
  }
  for (auto& [h, p] : spawned) {
    ::kill(p.pid, SIGKILL);
    if (!p.done) wait_child(p.pid);
  }
  close_fd(slirp_exit_fd_);
  if (slirp_pid_ > 0) {
    ::kill(slirp_pid_, SIGKILL);
    wait_child(slirp_pid_);
  }
  if (!api_socket_.empty()) ::unlink(api_socket_.c_str());
}

}  // namespace

std::string find_program(const std::string& program) {
  if (program.find('/') != std::string::npos)
    return ::access(program.c_str(), X_OK) == 0 ? program : "";
  const char* path = std::getenv("PATH");
  std::string dirs = std::string(path ? path : "") + ":" + kPath;
  std::istringstream in(dirs);
  for (std::string d; std::getline(in, d, ':');) {
    if (d.empty()) continue;
    std::string p = d + "/" + program;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

BwrapDriver::BwrapDriver(BwrapConfig cfg) : cfg_(std::move(cfg)) {
  for (std::string* p : {&cfg_.bwrap, &cfg_.slirp4netns, &cfg_.ip, &cfg_.nsenter}) {
    std::string found = find_program(*p);
    if (!found.empty()) *p = found;
  }
  ::mkdir(cfg_.run_dir.c_str(), 0711);
}

std::unique_ptr<Box> BwrapDriver::start(const BoxSpec& spec) {
  auto box = std::make_unique<BwrapBox>(cfg_, spec);
  box->boot();  // on failure the box's destructor frees what was made
  return box;
}

int BwrapDriver::reap_leftovers() {
  int n = 0;
  if (cfg_.cgroups) {
    for (const auto& box : cfg_.cgroups->boxes()) {
      cfg_.cgroups->remove_box(box);
      ++n;
    }
  }
  // Network sockets of boxes that died with the last run.
  if (DIR* d = ::opendir(cfg_.run_dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".net") == 0)
        ::unlink((cfg_.run_dir + "/" + name).c_str());
    }
    ::closedir(d);
  }
  return n;
}

}  // namespace sandboxes
