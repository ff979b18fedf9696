// alpaca-sandbox-enter: the small program the sandboxes plugin starts for every process it puts
// in a box. The server is multi-threaded and must not change its own namespaces or identity;
// this single-threaded helper does it, then execs the real program.
//
//   alpaca-sandbox-enter start [--cgroup FILE]... [--uid U --gid G] [--seccomp-fd N] -- ARGV
//       joins the cgroups, drops to host uid/gid U/G (when root), writes the box's seccomp
//       filter as BPF to fd N (bwrap --seccomp N) and execs ARGV (bwrap).
//   alpaca-sandbox-enter exec --ns-fds N [--cgroup FILE]... [--uid U --gid G] [--cwd DIR]
//                             [--log PATH] -- ARGV
//       joins the cgroups, enters the box's namespaces (descriptors N..N+5: ipc, uts, net, pid,
//       mnt, user, opened by the server when the box started), becomes
//       U/G there, no-new-privs + seccomp, and runs ARGV in DIR as a child in the box's pid
//       namespace (output appended to PATH inside the box with --log). Exits with ARGV's
//       status (128 + signal when it was killed).
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "seccomp_policy.hpp"

namespace {

[[noreturn]] void die(const std::string& what) {
  std::string msg = "alpaca-sandbox-enter: " + what;
  if (errno) {
    msg += ": ";
    msg += std::strerror(errno);
  }
  msg += '\n';
  ssize_t ignored = ::write(2, msg.data(), msg.size());
  (void)ignored;
  std::_Exit(126);
}

struct Args {
  std::string mode;
  std::vector<std::string> cgroups;
  int ns_fds = -1;
  long uid = -1, gid = -1;
  int seccomp_fd = -1;
  std::string cwd;
  std::string log;
  std::vector<char*> argv;
};

Args parse(int argc, char** argv) {
  Args a;
  if (argc < 2) die("usage: alpaca-sandbox-enter start|exec [options] -- argv");
  a.mode = argv[1];
  int i = 2;
  for (; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--") {
      ++i;
      break;
    }
    if (i + 1 >= argc) die("option " + k + " needs a value");
    std::string v = argv[++i];
    if (k == "--cgroup")
      a.cgroups.push_back(v);
    else if (k == "--ns-fds")
      a.ns_fds = std::atoi(v.c_str());
    else if (k == "--uid")
      a.uid = std::atol(v.c_str());
    else if (k == "--gid")
      a.gid = std::atol(v.c_str());
    else if (k == "--seccomp-fd")
      a.seccomp_fd = std::atoi(v.c_str());
    else if (k == "--cwd")
      a.cwd = v;
    else if (k == "--log")
      a.log = v;
    else
      die("unknown option " + k);
  }
  for (; i < argc; ++i) a.argv.push_back(argv[i]);
  a.argv.push_back(nullptr);
  if (a.argv.size() < 2) die("no program given after --");
  return a;
}

void join_cgroups(const std::vector<std::string>& files) {
  std::string pid = std::to_string(::getpid());
  for (const auto& f : files) {
    int fd = ::open(f.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, pid.data(), pid.size()) < 0) die("cannot join cgroup " + f);
    ::close(fd);
  }
}

// Drops every capability from the bounding set, then takes the box identity: when uid changes
// away from 0 the kernel clears the remaining capability sets.
void become(long uid, long gid) {
  if (uid < 0) return;
  // Needs CAP_SETPCAP, which root has in the initial user namespace and everyone has in the
  // box's right after entering it; errors only mean there was nothing to drop.
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  if (::setresgid(gid, gid, gid) != 0) die("setresgid");
  if (::setresuid(uid, uid, uid) != 0) die("setresuid");
}

void enter_namespaces(int base) {
  const char* kinds[] = {"ipc", "uts", "net", "pid", "mnt"};
  int fds[5];
  for (int i = 0; i < 5; ++i) fds[i] = base + i;
  int userfd = base + 5;
  // Root enters the other namespaces first (it may, from the initial user namespace) and the
  // user namespace last; an unprivileged owner needs the user namespace first.
  bool retry[5] = {};
  bool any_retry = false;
  for (int i = 0; i < 5; ++i) {
    if (::setns(fds[i], 0) != 0) {
      if (errno != EPERM) die(std::string("cannot enter the box's ") + kinds[i] + " namespace");
      retry[i] = any_retry = true;
    }
  }
  if (::setns(userfd, CLONE_NEWUSER) != 0) die("cannot enter the box's user namespace");
  for (int i = 0; any_retry && i < 5; ++i) {
    if (retry[i] && ::setns(fds[i], 0) != 0)
      die(std::string("cannot enter the box's ") + kinds[i] + " namespace");
  }
  for (int fd : fds) ::close(fd);
  ::close(userfd);
}

void load_seccomp() {
  scmp_filter_ctx ctx = sandboxes::make_seccomp_policy();
  if (!ctx) die("cannot build the seccomp filter");
  int rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) {
    errno = -rc;
    die("cannot load the seccomp filter");
  }
}

int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

int run_start(Args& a) {
  join_cgroups(a.cgroups);
  if (::geteuid() == 0) {
    if (::setgroups(0, nullptr) != 0) die("setgroups");
  }
  if (a.seccomp_fd >= 0) {
    scmp_filter_ctx ctx = sandboxes::make_seccomp_policy();
    if (!ctx) die("cannot build the seccomp filter");
    int fd = ::memfd_create("alpaca-seccomp", 0);
    if (fd < 0) die("memfd_create");
    if (seccomp_export_bpf(ctx, fd) != 0) die("cannot export the seccomp filter");
    seccomp_release(ctx);
    ::lseek(fd, 0, SEEK_SET);
    if (fd != a.seccomp_fd && (::dup2(fd, a.seccomp_fd) < 0 || ::close(fd) != 0)) die("dup2");
  }
  become(a.uid, a.gid);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("no_new_privs");
  ::execvp(a.argv[0], a.argv.data());
  die(std::string("cannot run ") + a.argv[0]);
}

int run_exec(Args& a) {
  if (a.ns_fds < 3) die("exec needs --ns-fds");
  join_cgroups(a.cgroups);
  if (::geteuid() == 0 && ::setgroups(0, nullptr) != 0) die("setgroups");
  enter_namespaces(a.ns_fds);
  become(a.uid, a.gid);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("no_new_privs");
  struct rlimit no_core = {0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  // Entering a pid namespace applies to children only: the program runs in a child.
  pid_t child = ::fork();
  if (child < 0) die("fork");
  if (child == 0) {
    ::setsid();
    if (!a.cwd.empty() && ::chdir(a.cwd.c_str()) != 0) die("cannot change to " + a.cwd);
    if (!a.log.empty()) {
      int fd = ::open(a.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd < 0) die("cannot open " + a.log);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      int null = ::open("/dev/null", O_RDONLY);
      if (null >= 0) ::dup2(null, 0);
    }
    load_seccomp();
    ::execvp(a.argv[0], a.argv.data());
    int e = errno;
    std::string msg = std::string(a.argv[0]) + ": " + std::strerror(e) + "\n";
    ssize_t ignored = ::write(2, msg.data(), msg.size());
    (void)ignored;
    std::_Exit(e == ENOENT ? 127 : 126);
  }
  ::close(0);  // the child alone owns stdin, so it sees EOF when the server closes it
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) die("waitpid");
  }
  return status_code(status);
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parse(argc, argv);
  if (a.mode == "start") return run_start(a);
  if (a.mode == "exec") return run_exec(a);
  errno = 0;
  die("unknown mode " + a.mode);
}
