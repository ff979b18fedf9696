// Child processes of the server: spawned with pipes (posix_spawn, so the multi-threaded server
// never runs code between fork and exec), and their output collected with caps and a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace sandboxes {

struct SpawnOptions {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "K=V"; the child gets exactly these
  bool pipe_stdin = false;       // else /dev/null
  bool pipe_output = true;       // stdout/stderr to pipes, else /dev/null
  // Extra descriptors the child gets: {our fd, the child's fd number}.
  std::vector<std::pair<int, int>> fds;
};

struct Child {
  pid_t pid = -1;
  int in = -1, out = -1, err = -1;  // our ends of the pipes, -1 when not piped
};

// Throws std::runtime_error when the program cannot be started.
Child spawn_child(const SpawnOptions& opt);

// The same, from one thread that lives as long as the process. For children that watch their
// parent with PR_SET_PDEATHSIG (bwrap --die-with-parent): the kernel sends that signal when the
// spawning *thread* ends, so a request thread or a short-lived worker must not spawn them.
Child spawn_lasting_child(const SpawnOptions& opt);

struct Collected {
  std::string out, err;
  bool truncated = false;
  bool timed_out = false;
  int status = -1;  // exit code, 128 + signal when killed
};

// Writes stdin_data, reads both streams (keeping `limit` bytes of each) until the child exits
// and the pipes are drained. At `deadline` on_timeout() runs (it must make the child exit);
// after the child exits, after_exit() runs (kill what it left holding the pipes).
Collected collect_child(Child& c, const std::string& stdin_data,
                        std::chrono::steady_clock::time_point deadline, size_t limit,
                        const std::function<void()>& on_timeout,
                        const std::function<void()>& after_exit);

// Waits for a child that is being killed or ends by itself; returns its status code.
int wait_child(pid_t pid);

void close_fd(int& fd);

}  // namespace sandboxes
