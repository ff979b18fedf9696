#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace sandboxes {

namespace {

int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

Child spawn_child(const SpawnOptions& opt) {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  auto fail = [&](const std::string& what) {
    int e = errno;
    for (int* p : {in, out, err}) {
      if (p[0] >= 0) ::close(p[0]);
      if (p[1] >= 0) ::close(p[1]);
    }
    throw std::runtime_error(what + ": " + std::strerror(e));
  };
  if (opt.pipe_stdin && ::pipe2(in, O_CLOEXEC) != 0) fail("pipe");
  if (opt.pipe_output && (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0))
    fail("pipe");

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (opt.pipe_stdin)
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  else
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (opt.pipe_output) {
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  } else {
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  }
  // dup2s run in order: move every source above all targets first, so no dup2 overwrites a
  // source that a later one still needs.
  int highest = 2;
  for (auto [ours, theirs] : opt.fds) highest = std::max(highest, theirs);
  std::vector<int> moved;
  for (auto [ours, theirs] : opt.fds) {
    int high = ::fcntl(ours, F_DUPFD_CLOEXEC, highest + 1);
    if (high < 0) {
      for (int fd : moved) ::close(fd);
      posix_spawn_file_actions_destroy(&fa);
      fail("cannot pass a descriptor");
    }
    moved.push_back(high);
    posix_spawn_file_actions_adddup2(&fa, high, theirs);
  }
  // Nothing else of the server's (client sockets, database connections) may reach a child: many
  // of those descriptors are not close-on-exec.
  posix_spawn_file_actions_addclosefrom_np(&fa, highest + 1);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv, envp;
  for (const auto& a : opt.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : opt.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  for (int fd : moved) ::close(fd);
  if (rc != 0) {
    errno = rc;
    fail("cannot start " + opt.argv[0]);
  }
  Child c;
  c.pid = pid;
  if (opt.pipe_stdin) {
    ::close(in[0]);
    c.in = in[1];
  }
  if (opt.pipe_output) {
    ::close(out[1]);
    ::close(err[1]);
    c.out = out[0];
    c.err = err[0];
  }
  return c;
}

Child spawn_lasting_child(const SpawnOptions& opt) {
  struct Job {
    const SpawnOptions* opt;
    Child child;
    std::exception_ptr error;
    bool done = false;
  };
  // Never destroyed: the launcher thread waits on them until the process ends, and destroying a
  // condition variable with a waiter blocks exit.
  struct Launcher {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Job*> jobs;
  };
  static Launcher* l = [] {
    auto* launcher = new Launcher;
    std::thread([launcher] {
      std::unique_lock<std::mutex> lock(launcher->mu);
      for (;;) {
        launcher->cv.wait(lock, [&] { return !launcher->jobs.empty(); });
        Job* j = launcher->jobs.front();
        launcher->jobs.pop_front();
        lock.unlock();
        try {
          j->child = spawn_child(*j->opt);
        } catch (...) {
          j->error = std::current_exception();
        }
        lock.lock();
        j->done = true;
        launcher->cv.notify_all();
      }
    }).detach();
    return launcher;
  }();
  Job job{&opt, {}, nullptr, false};
  std::unique_lock<std::mutex> lock(l->mu);
  l->jobs.push_back(&job);
  l->cv.notify_all();
  l->cv.wait(lock, [&] { return job.done; });
  if (job.error) std::rethrow_exception(job.error);
  return job.child;
}

int wait_child(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status_code(status);
}

Collected collect_child(Child& c, const std::string& stdin_data,
                        std::chrono::steady_clock::time_point deadline, size_t limit,
                        const std::function<void()>& on_timeout,
                        const std::function<void()>& after_exit) {
  using clock = std::chrono::steady_clock;
  Collected r;
  int pidfd = pidfd_open(c.pid);
  size_t written = 0;
  if (c.in >= 0) {
    ::fcntl(c.in, F_SETFL, ::fcntl(c.in, F_GETFL) | O_NONBLOCK);
    if (stdin_data.empty()) close_fd(c.in);
  }
  bool exited = false;
  clock::time_point drain_until{};
  char buf[65536];
  auto take = [&](int& fd, std::string& into) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      size_t keep = into.size() < limit ? std::min(limit - into.size(), size_t(n)) : 0;
      into.append(buf, keep);
      if (keep < size_t(n)) r.truncated = true;
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
      close_fd(fd);
    }
  };
  while (c.out >= 0 || c.err >= 0 || !exited) {
    auto now = clock::now();
    if (!exited && !r.timed_out && now >= deadline) {
      r.timed_out = true;
      on_timeout();
    }
    if (exited && now >= drain_until) break;  // something outside the tree holds a pipe
    pollfd p[4];
    int n = 0;
    int i_out = -1, i_err = -1, i_in = -1, i_pid = -1;
    if (c.out >= 0) p[i_out = n++] = {c.out, POLLIN, 0};
    if (c.err >= 0) p[i_err = n++] = {c.err, POLLIN, 0};
    if (c.in >= 0) p[i_in = n++] = {c.in, POLLOUT, 0};
    if (!exited && pidfd >= 0) p[i_pid = n++] = {pidfd, POLLIN, 0};
    auto until = exited ? drain_until : (r.timed_out ? now + std::chrono::seconds(1) : deadline);
    int wait_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count());
    if (pidfd < 0 && !exited) wait_ms = std::min(wait_ms, 20);  // no pidfd: poll for the exit
    ::poll(p, n, std::max(wait_ms, 0));
    if (i_out >= 0 && p[i_out].revents) take(c.out, r.out);
    if (i_err >= 0 && p[i_err].revents) take(c.err, r.err);
    if (i_in >= 0 && p[i_in].revents) {
      if (p[i_in].revents & (POLLERR | POLLHUP)) {
        close_fd(c.in);
      } else {
        ssize_t w = ::write(c.in, stdin_data.data() + written, stdin_data.size() - written);
        if (w > 0) written += size_t(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_data.size())
          close_fd(c.in);
      }
    }
    if (!exited) {
      int status = 0;
      pid_t w = ::waitpid(c.pid, &status, WNOHANG);
      if (w == c.pid) {
        exited = true;
        r.status = status_code(status);
        after_exit();
        drain_until = clock::now() + std::chrono::milliseconds(500);
      }
    }
  }
  close_fd(c.in);
  close_fd(c.out);
  close_fd(c.err);
  if (pidfd >= 0) ::close(pidfd);
  return r;
}

}  // namespace sandboxes
