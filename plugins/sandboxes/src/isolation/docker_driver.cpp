#include "isolation/docker_driver.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "isolation/docker_client.hpp"

namespace sandboxes {

namespace {

using Clock = std::chrono::steady_clock;
using docker::Client;
using docker::Response;

constexpr const char* kUser = "1000:1000";
constexpr const char* kOomLine = "alpaca: killed: out of memory (the sandbox's memory limit)\n";

// ---- shell snippets (POSIX sh + `local`; builtins only where a fork could fail) ----

// __alpaca_k SID MAX_ROUNDS: SIGKILLs every process of session SID, by process group (which a
// fork cannot slip past) and one by one, until two rounds in a row find nothing alive. Skips
// PID 1 and the calling shell ($$), and never signals $$'s own process group.
const char* const kKillFunction = R"SH(
__alpaca_k() {
  local IFS=' ' s=$1 max=$2 r=0 c=0 n g d p l
  while [ $c -lt 2 ] && [ $r -lt $max ]; do
    r=$((r+1)); n=0; g=' '
    for d in /proc/[0-9]*; do
      p=${d#/proc/}
      case $p in 1|$$) continue;; esac
      { read -r l < "$d/stat"; } 2>/dev/null || continue
      set -- ${l##*) }
      [ "$4" = "$s" ] || continue
      case $1 in Z|X|x) continue;; esac
      n=1
      case $3 in 0|1|$$) ;; *)
        case $g in *" $3 "*) ;; *) g="$g$3 "; kill -9 -"$3" 2>/dev/null;; esac;;
      esac
      kill -9 "$p" 2>/dev/null
    done
    if [ $n = 0 ]; then c=$((c+1)); else c=0; fi
  done
}
)SH";

// __alpaca_oom: sets __o to the memory cgroup's oom_kill counter ("-" when unreadable).
const char* const kOomFunction = R"SH(
__alpaca_oom() {
  local IFS=' ' f a b
  __o=-
  for f in /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events; do
    if [ -r "$f" ]; then
      { while read -r a b; do [ "$a" = oom_kill ] && __o=$b; done < "$f"; } 2>/dev/null
      break
    fi
  done
}
)SH";

// The container's main process (child of Docker's init). Reads "k SID TOKEN KEEP..." lines on
// stdin: kills session SID, then every process outside the sessions in KEEP whose environment
// holds ALPACA_EXEC_ID=TOKEN (and its session), and answers "d SID OOM_KILL_COUNT" on stdout.
// It must never fork (dash exits when a fork fails), so: builtins only.
const char* const kSupervisorMain = R"SH(
trap '' HUP INT QUIT TERM USR1 USR2 PIPE ALRM
__alpaca_sweep() {
  local IFS=' ' t="ALPACA_EXEC_ID=$1" keep=" 0 1 $2 " d p l e x
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    case $p in 1|$$) continue;; esac
    { read -r l < "$d/stat"; } 2>/dev/null || continue
    set -- ${l##*) }
    case $keep in *" $4 "*) continue;; esac
    case $1 in Z|X|x) continue;; esac
    e=; x=
    { while IFS= read -r x; do e="$e$x"; done < "$d/environ"; } 2>/dev/null
    e="$e$x"
    case $e in *"$t"*) keep="$keep$4 "; __alpaca_k "$4" 1000;; esac
  done
}
while :; do
  if read -r __c __s __t __keep; then
    case $__c in
      k)
        case $__s in ''|*[!0-9]*|0|1) ;; *) __alpaca_k "$__s" 1000;; esac
        [ -n "$__t" ] && __alpaca_sweep "$__t" "$__s $__keep"
        __alpaca_oom
        printf 'd %s %s\n' "$__s" "$__o";;
    esac
  else
    exec sleep 2147483647
  fi
done
)SH";

// sh -c WRAPPER sh CWD ARGV...: prints "PID OOM_KILL_COUNT", runs ARGV in CWD, kills what ARGV
// left in the session, exits with ARGV's status.
const char* const kExecMain = R"SH(
__alpaca_oom
printf '%s %s\n' "$$" "$__o"
cd -- "$1" || exit 126
shift
"$@"
__st=$?
__alpaca_k "$$" 50
exit "$__st"
)SH";

// sh -c SPAWN sh CWD LOG ARGV...: opens LOG, prints "PID", then execs ARGV with stdout+stderr
// appended to LOG.
const char* const kSpawnMain = R"SH(
cd -- "$1" || exit 126
exec 3>>"$2" || exit 1
shift 2
printf '%s\n' "$$"
exec "$@" >&3 2>&3 3>&- </dev/null
)SH";

// sh -c READ sh PATH MAX
const char* const kReadScript = R"SH(
p=$1
if [ -L "$p" ]; then exit 81; fi
if [ ! -e "$p" ]; then exit 82; fi
if [ -d "$p" ]; then exit 83; fi
if [ ! -f "$p" ]; then exit 84; fi
case $(readlink -f -- "$p") in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) exit 86;; esac
if [ ! -r "$p" ]; then exit 85; fi
s=$(wc -c < "$p") || exit 1
if [ $s -gt "$2" ]; then printf '%s' $s >&2; exit 87; fi
exec head -c "$(($2 + 1))" -- "$p"
)SH";

// sh -c WRITE sh PATH < DATA
const char* const kWriteScript = R"SH(
p=$1
d=${p%/*}
[ -n "$d" ] || d=/
if [ -L "$p" ]; then exit 81; fi
if [ -d "$p" ]; then exit 83; fi
mkdir -p -- "$d" || exit 90
case $(readlink -f -- "$d") in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) exit 86;; esac
if ! cat > "$p"; then rm -f -- "$p" 2>/dev/null; exit 91; fi
)SH";

std::string script(std::initializer_list<const char*> parts) {
  std::string s;
  for (const char* p : parts) s += p;
  return s;
}

const std::string& supervisor_script() {
  static const std::string s = script({kKillFunction, kOomFunction, kSupervisorMain});
  return s;
}
const std::string& exec_script() {
  static const std::string s = script({kKillFunction, kOomFunction, kExecMain});
  return s;
}

Poco::JSON::Array::Ptr string_array(const std::vector<std::string>& items) {
  Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
  for (const auto& i : items) a->add(i);
  return a;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void append_capped(std::string* out, const char* data, size_t size, size_t limit, bool* truncated) {
  size_t room = out->size() < limit ? limit - out->size() : 0;
  if (size > room) *truncated = true;
  out->append(data, std::min(size, room));
}

void append_line(std::string* out, const std::string& line) {
  if (!out->empty() && out->back() != '\n') *out += '\n';
  *out += line;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t b = 0;
  while (b < s.size() && (s[b] == ' ' || s[b] == '\n')) ++b;
  return s.substr(b);
}

std::string container_path(const std::string& id) {
  std::string p = "/containers/";
  p += id;
  return p;
}

// Absolute, no NUL, no "..", not under /proc, /sys or /dev. Returns the path with empty and "."
// parts dropped.
std::string checked_path(const std::string& path) {
  if (path.empty() || path[0] != '/') throw BoxError(400, "path must be absolute");
  if (path.find('\0') != std::string::npos) throw BoxError(400, "path contains a NUL byte");
  if (path.size() > 4096) throw BoxError(400, "path is too long");
  std::vector<std::string> parts;
  size_t pos = 1;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    std::string part = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") throw BoxError(400, "path must not contain '..'");
    parts.push_back(std::move(part));
  }
  if (!parts.empty() && (parts[0] == "proc" || parts[0] == "sys" || parts[0] == "dev"))
    throw BoxError(400, "path is under /proc, /sys or /dev");
  std::string out;
  for (const auto& p : parts) {
    out += '/';
    out += p;
  }
  return out.empty() ? std::string("/") : out;
}

// Maps a failed file command's stderr to an API status.
BoxError file_error(const std::string& stderr_text, const std::string& what) {
  std::string detail = trim(stderr_text);
  auto has = [&](const char* s) { return stderr_text.find(s) != std::string::npos; };
  if (has("Read-only file system"))
    return BoxError(403, "the path is read-only in the sandbox", detail);
  if (has("Permission denied")) return BoxError(403, "permission denied", detail);
  if (has("No space left on device") || has("Disk quota exceeded"))
    return BoxError(507, "the sandbox's disk is full", detail);
  if (has("Not a directory") || has("File exists"))
    return BoxError(400, "a parent of the path is not a directory", detail);
  if (has("Is a directory")) return BoxError(400, "Is a directory", detail);
  if (has("File name too long")) return BoxError(400, "file name too long", detail);
  std::string msg = what;
  msg += " failed";
  return BoxError(500, msg, detail);
}

// ---- port forwarding ----

// Listens on 127.0.0.1:<ephemeral> and relays each connection to target:port, both ways, with
// half-closes passed on. One thread runs a poll loop over all of a forwarder's connections.
class PortForwarder {
 public:
  PortForwarder(const std::string& target_ip, uint16_t target_port) {
    std::memset(&target_, 0, sizeof(target_));
    target_.sin_family = AF_INET;
    target_.sin_port = htons(target_port);
    if (::inet_pton(AF_INET, target_ip.c_str(), &target_.sin_addr) != 1)
      throw std::runtime_error("the box has no IPv4 address to forward to");
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (listen_fd_ < 0 || wake_fd_ < 0) {
      close_fds();
      throw std::runtime_error("cannot open a socket to expose the port");
    }
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    local.sin_port = 0;
    socklen_t len = sizeof(local);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
        ::listen(listen_fd_, 128) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&local), &len) != 0) {
      close_fds();
      throw std::runtime_error("cannot listen on 127.0.0.1 to expose the port");
    }
    port_ = ntohs(local.sin_port);
    thread_ = std::thread([this] { loop(); });
  }

  ~PortForwarder() {
    uint64_t one = 1;
    ssize_t n = ::write(wake_fd_, &one, sizeof(one));
    (void)n;
    if (thread_.joinable()) thread_.join();
    close_fds();
  }

  PortForwarder(const PortForwarder&) = delete;
  PortForwarder& operator=(const PortForwarder&) = delete;

  uint16_t port() const { return port_; }

 private:
  static constexpr size_t kBuffer = 256 * 1024;
  static constexpr size_t kMaxConnections = 256;

  struct Conn {
    int client = -1;
    int upstream = -1;
    bool connected = false;
    std::string to_upstream, to_client;
    bool client_eof = false, upstream_eof = false;
    bool client_shut = false, upstream_shut = false;
    bool dead = false;
  };

  void close_fds() {
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    listen_fd_ = wake_fd_ = -1;
  }

  // Reads what fits into `buf`; sets *eof at EOF, *dead on an error.
  static void pull(int fd, std::string* buf, bool* eof, bool* dead) {
    char tmp[64 * 1024];
    size_t room = buf->size() < kBuffer ? kBuffer - buf->size() : 0;
    if (room == 0) return;
    ssize_t n = ::recv(fd, tmp, std::min(room, sizeof(tmp)), MSG_DONTWAIT);
    if (n > 0) {
      buf->append(tmp, static_cast<size_t>(n));
    } else if (n == 0) {
      *eof = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      *dead = true;
    }
  }

  static void push(int fd, std::string* buf, bool* dead) {
    if (buf->empty()) return;
    ssize_t n = ::send(fd, buf->data(), buf->size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      buf->erase(0, static_cast<size_t>(n));
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      *dead = true;
    }
  }

  void accept_all(std::vector<std::unique_ptr<Conn>>* conns) {
    for (;;) {
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (c < 0) return;
      if (conns->size() >= kMaxConnections) {
        ::close(c);
        continue;
      }
      int u = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (u < 0) {
        ::close(c);
        continue;
      }
      int rc = ::connect(u, reinterpret_cast<const sockaddr*>(&target_), sizeof(target_));
      if (rc != 0 && errno != EINPROGRESS) {
        ::close(c);
        ::close(u);
        continue;
      }
      auto conn = std::make_unique<Conn>();
      conn->client = c;
      conn->upstream = u;
      conn->connected = rc == 0;
      conns->push_back(std::move(conn));
    }
  }

  void loop() {
    std::vector<std::unique_ptr<Conn>> conns;
    std::vector<pollfd> fds;
    for (;;) {
      fds.clear();
      fds.push_back(pollfd{wake_fd_, POLLIN, 0});
      fds.push_back(pollfd{listen_fd_, POLLIN, 0});
      for (const auto& c : conns) {
        short ce = 0, ue = 0;
        if (!c->client_eof && c->to_upstream.size() < kBuffer) ce |= POLLIN;
        if (!c->to_client.empty()) ce |= POLLOUT;
        if (!c->connected) {
          ue = POLLOUT;
        } else {
          if (!c->upstream_eof && c->to_client.size() < kBuffer) ue |= POLLIN;
          if (!c->to_upstream.empty()) ue |= POLLOUT;
        }
        fds.push_back(pollfd{c->client, ce, 0});
        fds.push_back(pollfd{c->upstream, ue, 0});
      }
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[0].revents) break;
      for (size_t i = 0; i < conns.size(); ++i) {
        Conn& c = *conns[i];
        const short cr = fds[2 + 2 * i].revents;
        const short ur = fds[3 + 2 * i].revents;
        if (!c.connected) {
          if (ur & (POLLOUT | POLLERR | POLLHUP)) {
            int err = 0;
            socklen_t len = sizeof(err);
            ::getsockopt(c.upstream, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) {
              c.dead = true;
              continue;
            }
            c.connected = true;
          }
        } else {
          if (ur & (POLLIN | POLLHUP | POLLERR))
            pull(c.upstream, &c.to_client, &c.upstream_eof, &c.dead);
          if (ur & POLLOUT) push(c.upstream, &c.to_upstream, &c.dead);
        }
        if (cr & (POLLIN | POLLHUP | POLLERR))
          pull(c.client, &c.to_upstream, &c.client_eof, &c.dead);
        if (cr & POLLOUT) push(c.client, &c.to_client, &c.dead);
        if (c.connected && c.client_eof && c.to_upstream.empty() && !c.upstream_shut) {
          ::shutdown(c.upstream, SHUT_WR);
          c.upstream_shut = true;
        }
        if (c.upstream_eof && c.to_client.empty() && !c.client_shut) {
          ::shutdown(c.client, SHUT_WR);
          c.client_shut = true;
        }
      }
      conns.erase(std::remove_if(conns.begin(), conns.end(),
                                 [](const std::unique_ptr<Conn>& c) {
                                   bool done = c->dead || (c->client_shut && c->upstream_shut);
                                   if (done) {
                                     ::close(c->client);
                                     ::close(c->upstream);
                                   }
                                   return done;
                                 }),
                  conns.end());
      if (fds[1].revents & POLLIN) accept_all(&conns);
    }
    for (const auto& c : conns) {
      ::close(c->client);
      ::close(c->upstream);
    }
  }

  sockaddr_in target_{};
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

// ---- the box ----

class DockerBox : public Box {
 public:
  DockerBox(std::shared_ptr<Client> client, std::string container_id)
      : client_(std::move(client)), cid_(std::move(container_id)) {}

  ~DockerBox() override {
    try {
      destroy();
    } catch (const std::exception&) {
      // reap_leftovers() at the next start removes it
    }
  }

  ExecResult exec(const ExecSpec& spec) override {
    if (spec.argv.empty()) throw BoxError(400, "nothing to run (empty argv)");
    return run(spec, /*cleanup=*/true);
  }

  uint64_t spawn(const ExecSpec& spec, const std::string& log_path) override {
    if (spec.argv.empty()) throw BoxError(400, "nothing to run (empty argv)");
    if (log_path.empty()) throw BoxError(400, "no log path");
    check_running();
    const std::string token = next_token();
    std::vector<std::string> cmd{"/bin/sh", "-c", kSpawnMain, "sh", cwd_of(spec), log_path};
    cmd.insert(cmd.end(), spec.argv.begin(), spec.argv.end());
    std::string eid = create_exec(cmd, spec.env, token, /*attach_stdin=*/false);
    auto stream = start_exec(eid);

    std::string line, err;
    bool have_line = false, truncated = false;
    auto sink = [&](int s, const char* d, size_t n) {
      if (s == 1 && !have_line) {
        for (size_t i = 0; i < n && !have_line; ++i) {
          if (d[i] == '\n') {
            have_line = true;
          } else if (line.size() < 64) {
            line += d[i];
          }
        }
      } else if (s == 2) {
        append_capped(&err, d, n, 4096, &truncated);
      }
    };
    auto deadline = Clock::now() + std::chrono::seconds(30);
    stream->pump(sink, deadline, [&] { return have_line; });
    if (!have_line) {
      stream->pump(sink, Clock::now() + std::chrono::seconds(2));
      std::string msg = "cannot start the process";
      if (!trim(err).empty()) {
        msg += ": ";
        msg += trim(err);
      }
      throw BoxError(400, msg);
    }
    stream->close();  // the process goes on; its output goes to the log
    if (!all_digits(line)) throw std::runtime_error("docker driver: the spawn wrapper misbehaved");
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t handle = ++next_handle_;
    spawns_[handle] = Spawned{eid, line, token, false};
    return handle;
  }

  bool process_running(uint64_t handle, int* exit_code) override {
    Spawned sp;
    if (!find_spawn(handle, &sp)) {
      if (exit_code) *exit_code = -1;
      return false;
    }
    bool running = false;
    int code = -1;
    inspect_exec(sp.eid, &running, &code);
    if (!running && exit_code) *exit_code = code;
    return running;
  }

  void stop_process(uint64_t handle) override {
    Spawned sp;
    if (!find_spawn(handle, &sp) || sp.stopped) return;
    // Also when the process itself has ended: what it started may still run in its session.
    kill_session(sp.sid, sp.token, nullptr);
    {
      std::lock_guard<std::mutex> lock(mu_);
      spawns_[handle].stopped = true;
    }
    auto until = Clock::now() + std::chrono::seconds(3);
    bool running = false;
    int code = -1;
    while (Clock::now() < until) {
      if (!inspect_exec(sp.eid, &running, &code) || !running) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // Relays 127.0.0.1:<port> of the host to box_port on the box's bridge address: the process
  // in the box must listen on 0.0.0.0 (or that address), not only on its loopback. Boxes
  // without network have no address to relay to.
  uint16_t expose_port(uint16_t box_port) override {
    if (box_port == 0) throw BoxError(400, "bad port");
    check_running();
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = forwarders_.find(box_port);
      if (it != forwarders_.end()) return it->second->port();
    }
    Response r = client_->get(container_path(cid_) + "/json", 10000);
    if (!r.ok()) engine_failure(r, "inspecting the container");
    std::string ip;
    if (auto net = r.object()->getObject("NetworkSettings")) {
      ip = net->optValue<std::string>("IPAddress", "");
      if (ip.empty()) {
        if (auto nets = net->getObject("Networks")) {
          for (const auto& name : nets->getNames()) {
            auto n = nets->getObject(name);
            if (n && !n->optValue<std::string>("IPAddress", "").empty()) {
              ip = n->getValue<std::string>("IPAddress");
              break;
            }
          }
        }
      }
    }
    if (ip.empty())
      throw std::runtime_error("the sandbox has no network, so it has no port to expose");
    auto forwarder = std::make_unique<PortForwarder>(ip, box_port);
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = forwarders_[box_port];
    if (!slot) slot = std::move(forwarder);
    return slot->port();
  }

  std::string read_file(const std::string& path, size_t max_bytes) override {
    const std::string p = checked_path(path);
    const size_t max = std::min<size_t>(max_bytes, size_t{1} << 40);
    ExecSpec spec;
    spec.argv = {"sh", "-c", kReadScript, "sh", p, std::to_string(max)};
    spec.cwd = "/";
    spec.env = {{"LC_ALL", "C"}};
    spec.timeout_ms = 120000;
    spec.output_limit = max + 1;
    ExecResult r = run(spec, /*cleanup=*/false);
    if (r.timed_out) throw BoxError(500, "reading the file timed out");
    switch (r.exit_code) {
      case 0:
        if (r.stdout_data.size() > max || r.truncated)
          throw BoxError(413, "the file is larger than allowed");
        return std::move(r.stdout_data);
      case 81:
        throw BoxError(400, "the path is a symbolic link");
      case 82:
        throw BoxError(404, "File not found");
      case 83:
        throw BoxError(400, "Is a directory");
      case 84:
        throw BoxError(400, "not a regular file");
      case 85:
        throw BoxError(403, "permission denied");
      case 86:
        throw BoxError(400, "the path resolves into /proc, /sys or /dev");
      case 87: {
        std::string detail = trim(r.stderr_data);
        detail += " bytes";
        throw BoxError(413, "the file is larger than allowed", detail);
      }
      default:
        throw file_error(r.stderr_data, "reading the file");
    }
  }

  void write_file(const std::string& path, const std::string& data) override {
    if (!path.empty() && path.back() == '/') throw BoxError(400, "Is a directory");
    const std::string p = checked_path(path);
    if (p == "/") throw BoxError(400, "Is a directory");
    ExecSpec spec;
    spec.argv = {"sh", "-c", kWriteScript, "sh", p};
    spec.cwd = "/";
    spec.env = {{"LC_ALL", "C"}};
    spec.stdin_data = data;
    spec.timeout_ms = 300000;
    spec.output_limit = 64 * 1024;
    ExecResult r = run(spec, /*cleanup=*/false);
    if (r.timed_out) throw BoxError(500, "writing the file timed out");
    switch (r.exit_code) {
      case 0:
        return;
      case 81:
        throw BoxError(400, "the path is a symbolic link");
      case 83:
        throw BoxError(400, "Is a directory");
      case 86:
        throw BoxError(400, "the path resolves into /proc, /sys or /dev");
      default:
        throw file_error(r.stderr_data, "writing the file");
    }
  }

  bool alive() override {
    if (destroyed_) return false;
    try {
      Response r = client_->get(container_path(cid_) + "/json", 10000);
      if (!r.ok()) return false;
      auto state = r.object()->getObject("State");
      return state && state->optValue<bool>("Running", false);
    } catch (const std::exception&) {
      return false;
    }
  }

  void destroy() override {
    destroyed_ = true;
    std::map<uint16_t, std::unique_ptr<PortForwarder>> forwarders;
    {
      std::lock_guard<std::mutex> lock(mu_);
      forwarders.swap(forwarders_);
    }
    forwarders.clear();  // stops listening and drops the relayed connections
    std::lock_guard<std::mutex> lock(destroy_mu_);
    if (removed_) return;
    std::string path = container_path(cid_);
    path += "?force=true&v=true";
    Response r = client_->del(path, 60000);
    // 404: already gone; 409: a removal is already in progress.
    if (!r.ok() && r.status != 404 && r.status != 409) {
      std::string msg = "cannot remove the sandbox container: ";
      msg += r.message();
      throw std::runtime_error(msg);
    }
    removed_ = true;
  }

 private:
  struct Spawned {
    std::string eid;
    std::string sid;
    std::string token;
    bool stopped = false;
  };

  static std::string cwd_of(const ExecSpec& spec) { return spec.cwd.empty() ? "/app" : spec.cwd; }

  void check_running() const {
    if (destroyed_) throw BoxError(409, "the sandbox is not running", "destroyed");
  }

  std::string next_token() {
    std::string t = "x";
    t += std::to_string(++next_token_);
    t += 'x';
    return t;
  }

  [[noreturn]] void engine_failure(const Response& r, const char* what) const {
    if (r.status == 404 || r.status == 409)
      throw BoxError(409, "the sandbox is not running", r.message());
    std::string msg = "docker: ";
    msg += what;
    msg += ": ";
    msg += r.message();
    throw std::runtime_error(msg);
  }

  std::string create_exec(const std::vector<std::string>& cmd,
                          const std::vector<std::pair<std::string, std::string>>& env,
                          const std::string& token, bool attach_stdin) {
    std::vector<std::string> env_list;
    for (const auto& [k, v] : env) {
      if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos)
        throw BoxError(400, "bad environment variable name");
      std::string kv = k;
      kv += '=';
      kv += v;
      env_list.push_back(std::move(kv));
    }
    std::string marker = "ALPACA_EXEC_ID=";
    marker += token;
    env_list.push_back(std::move(marker));
    Poco::JSON::Object body;
    body.set("AttachStdin", attach_stdin);
    body.set("AttachStdout", true);
    body.set("AttachStderr", true);
    body.set("Tty", false);
    body.set("Cmd", string_array(cmd));
    body.set("Env", string_array(env_list));
    body.set("WorkingDir", "/");
    body.set("User", kUser);
    Response r = client_->post(container_path(cid_) + "/exec", body, 30000);
    if (r.status != 201) engine_failure(r, "creating an exec");
    return r.object()->getValue<std::string>("Id");
  }

  std::unique_ptr<docker::Stream> start_exec(const std::string& eid) {
    Poco::JSON::Object body;
    body.set("Detach", false);
    body.set("Tty", false);
    Response failure;
    std::string path = "/exec/";
    path += eid;
    path += "/start";
    auto stream = client_->upgrade(path, Client::to_json(body), &failure, 30000);
    if (!stream) engine_failure(failure, "starting an exec");
    return stream;
  }

  // Running/ExitCode of an exec; false when the engine no longer knows it.
  bool inspect_exec(const std::string& eid, bool* running, int* exit_code) {
    *running = false;
    *exit_code = -1;
    try {
      std::string path = "/exec/";
      path += eid;
      path += "/json";
      Response r = client_->get(path, 10000);
      if (!r.ok()) return false;
      auto o = r.object();
      *running = o->optValue<bool>("Running", false);
      if (o->has("ExitCode") && !o->isNull("ExitCode")) *exit_code = o->getValue<int>("ExitCode");
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

  // Has the supervisor kill session `sid` and whatever escaped it carrying `token`. Waits for
  // its answer; *oom_count gets the memory cgroup's oom_kill counter ("-" unknown, "" no answer).
  bool kill_session(const std::string& sid, const std::string& token, std::string* oom_count) {
    if (oom_count) oom_count->clear();
    if (!all_digits(sid)) return false;
    std::string line = "k ";
    line += sid;
    line += ' ';
    line += token;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& s : running_) {
        if (s == sid) continue;
        line += ' ';
        line += s;
      }
      for (const auto& [h, sp] : spawns_) {
        if (sp.stopped || sp.sid == sid) continue;
        line += ' ';
        line += sp.sid;
      }
    }
    line += '\n';
    try {
      Response failure;
      std::string path = container_path(cid_);
      path += "/attach?stream=1&stdin=1&stdout=1";
      auto stream = client_->upgrade(path, {}, &failure, 10000);
      if (!stream) return false;
      auto deadline = Clock::now() + std::chrono::seconds(20);
      if (!stream->write_all(line, deadline)) return false;
      std::string want = "d ";
      want += sid;
      want += ' ';
      std::string buf;
      bool done = false;
      auto sink = [&](int s, const char* d, size_t n) {
        if (s != 1 || done) return;
        buf.append(d, n);
        size_t nl;
        while (!done && (nl = buf.find('\n')) != std::string::npos) {
          std::string l = buf.substr(0, nl);
          buf.erase(0, nl + 1);
          if (l.compare(0, want.size(), want) == 0) {
            done = true;
            if (oom_count) *oom_count = l.substr(want.size());
          }
        }
        if (buf.size() > 4096) buf.clear();
      };
      stream->pump(sink, deadline, [&] { return done; });
      return done;
    } catch (const std::exception&) {
      return false;
    }
  }

  ExecResult run(const ExecSpec& spec, bool cleanup) {
    const auto t0 = Clock::now();
    check_running();
    const std::string token = next_token();
    std::vector<std::string> cmd{"/bin/sh", "-c", exec_script(), "sh", cwd_of(spec)};
    cmd.insert(cmd.end(), spec.argv.begin(), spec.argv.end());
    std::string eid = create_exec(cmd, spec.env, token, !spec.stdin_data.empty());
    auto stream = start_exec(eid);
    if (!spec.stdin_data.empty()) stream->set_input(spec.stdin_data, true);

    ExecResult res;
    std::string header, sid, oom_before;
    bool header_done = false;
    auto on_header = [&]() {
      header_done = true;
      size_t sp = header.find(' ');
      std::string pid = header.substr(0, sp);
      if (all_digits(pid)) {
        sid = pid;
        oom_before = sp == std::string::npos ? "-" : header.substr(sp + 1);
        std::lock_guard<std::mutex> lock(mu_);
        running_.insert(sid);
      } else {
        // Not our wrapper's line (the engine's own error, say): it is output.
        header += '\n';
        append_capped(&res.stdout_data, header.data(), header.size(), spec.output_limit,
                      &res.truncated);
      }
    };
    auto sink = [&](int s, const char* d, size_t n) {
      if (s == 1) {
        if (!header_done) {
          size_t i = 0;
          while (i < n && !header_done) {
            if (d[i] == '\n') {
              on_header();
            } else if (header.size() < 256) {
              header += d[i];
            }
            ++i;
          }
          d += i;
          n -= i;
        }
        append_capped(&res.stdout_data, d, n, spec.output_limit, &res.truncated);
      } else if (s == 2) {
        append_capped(&res.stderr_data, d, n, spec.output_limit, &res.truncated);
      }
    };

    auto deadline = spec.timeout_ms == 0 ? Clock::now() + std::chrono::hours(24 * 365)
                                         : t0 + std::chrono::milliseconds(spec.timeout_ms);
    // The stream ends when the last holder of the exec's stdout/stderr goes. When the wrapper
    // is gone but the stream is not (its cleanup lost a race with a fork bomb, or argv killed
    // it), the supervisor kills the leftovers; the engine is asked every half second.
    bool eof = false, exited = false, killed = false;
    std::string oom_after;
    auto next_check = t0 + std::chrono::milliseconds(250);
    for (;;) {
      if (Clock::now() >= deadline) break;
      if (stream->pump(sink, exited ? deadline : std::min(deadline, next_check))) {
        eof = true;
        break;
      }
      if (exited || Clock::now() < next_check) continue;
      next_check = Clock::now() + std::chrono::milliseconds(500);
      bool running = true;
      int code = -1;
      if (inspect_exec(eid, &running, &code) && !running) {
        exited = true;
        killed = kill_session(sid, token, &oom_after) || killed;
        deadline = std::min(deadline, Clock::now() + std::chrono::seconds(5));
      }
    }
    if (!eof && !exited) {
      res.timed_out = true;
      if (sid.empty())
        stream->pump(sink, Clock::now() + std::chrono::seconds(2), [&] { return header_done; });
      if (!sid.empty()) kill_session(sid, token, &oom_after);
      stream->pump(sink, Clock::now() + std::chrono::seconds(5));
    } else if (cleanup && !killed && !sid.empty()) {
      kill_session(sid, token, &oom_after);
    }
    stream->close();
    if (!sid.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = running_.find(sid);
      if (it != running_.end()) running_.erase(it);
    }

    // The stream can end a moment before the engine records the exit.
    int exit_code = -1;
    auto until = Clock::now() + std::chrono::seconds(res.timed_out ? 1 : 5);
    for (;;) {
      bool running = false;
      if (!inspect_exec(eid, &running, &exit_code)) break;
      if (!running || Clock::now() >= until) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }

    if (res.timed_out) {
      res.exit_code = 137;
      std::string line = "alpaca: timed out after ";
      line += std::to_string(spec.timeout_ms);
      line += " ms; the process tree was killed\n";
      append_line(&res.stderr_data, line);
    } else {
      res.exit_code = exit_code;
      if (cleanup && exit_code == 137) {
        // The oom_kill counter moved during the exec (or cannot be read): the memory limit.
        bool unknown =
            oom_before.empty() || oom_before == "-" || oom_after.empty() || oom_after == "-";
        if (unknown || oom_before != oom_after) {
          res.out_of_memory = true;
          append_line(&res.stderr_data, kOomLine);
        }
      }
    }
    res.duration_ms = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
    return res;
  }

  bool find_spawn(uint64_t handle, Spawned* out) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = spawns_.find(handle);
    if (it == spawns_.end()) return false;
    *out = it->second;
    return true;
  }

  std::shared_ptr<Client> client_;
  const std::string cid_;
  std::atomic<bool> destroyed_{false};
  std::mutex destroy_mu_;
  bool removed_ = false;  // under destroy_mu_
  std::atomic<uint64_t> next_token_{0};
  std::mutex mu_;
  std::multiset<std::string> running_;  // session ids of execs under way
  std::map<uint64_t, Spawned> spawns_;
  uint64_t next_handle_ = 0;
  std::map<uint16_t, std::unique_ptr<PortForwarder>> forwarders_;
};

std::string tmpfs_options(uint64_t size) {
  std::string o = "rw,exec,nosuid,nodev,size=";
  o += std::to_string(size);
  o += ",uid=1000,gid=1000";
  return o;
}

Poco::JSON::Object::Ptr bind_mount(const Mount& m) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("Type", "bind");
  o->set("Source", m.host_path);
  o->set("Target", m.box_path);
  o->set("ReadOnly", m.read_only);
  return o;
}

}  // namespace

DockerDriver::DockerDriver(DockerConfig cfg)
    : cfg_(std::move(cfg)), client_(std::make_shared<Client>(cfg_.socket)) {}

DockerDriver::~DockerDriver() = default;

std::unique_ptr<Box> DockerDriver::start(const BoxSpec& spec) {
  if (spec.id.empty() || !std::all_of(spec.id.begin(), spec.id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      }))
    throw std::runtime_error("bad sandbox id");
  if (cfg_.image.empty()) throw std::runtime_error("the docker driver has no image configured");
  const Limits& lim = spec.limits;
  const std::string name = cfg_.name_prefix + spec.id;

  Poco::JSON::Object body;
  body.set("Image", cfg_.image);
  body.set("Cmd", string_array({"/bin/sh", "-c", supervisor_script()}));
  body.set("Entrypoint", string_array({}));
  body.set("User", kUser);
  body.set("WorkingDir", "/app");
  body.set("Hostname", "sandbox");
  body.set("Env", string_array({"HOME=/home/user",
                                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                "LANG=C.UTF-8"}));
  // The supervisor's command channel.
  body.set("OpenStdin", true);
  body.set("StdinOnce", false);
  body.set("AttachStdin", false);
  body.set("AttachStdout", false);
  body.set("AttachStderr", false);
  body.set("Tty", false);
  Poco::JSON::Object::Ptr labels = new Poco::JSON::Object;
  labels->set("alpaca.sandbox", spec.id);
  body.set("Labels", labels);

  Poco::JSON::Object::Ptr host = new Poco::JSON::Object;
  host->set("Memory", static_cast<int64_t>(lim.memory_bytes));
  host->set("MemorySwap", static_cast<int64_t>(lim.memory_bytes));
  host->set("NanoCpus", static_cast<int64_t>(lim.cpu_millis) * 1000000);
  host->set("PidsLimit", static_cast<int64_t>(lim.pids));
  host->set("ReadonlyRootfs", true);
  host->set("CapDrop", string_array({"ALL"}));
  host->set("SecurityOpt", string_array({"no-new-privileges"}));
  host->set("NetworkMode", spec.network ? "bridge" : "none");
  host->set("Init", true);
  Poco::JSON::Object::Ptr log = new Poco::JSON::Object;
  log->set("Type", "none");  // the supervisor's answers are not worth keeping
  host->set("LogConfig", log);
  Poco::JSON::Object::Ptr tmpfs = new Poco::JSON::Object;
  tmpfs->set("/app", tmpfs_options(lim.disk_bytes) + ",mode=0755");
  tmpfs->set("/home/user", tmpfs_options(lim.disk_bytes) + ",mode=0755");
  tmpfs->set("/tmp", tmpfs_options(lim.disk_bytes) + ",mode=1777");
  host->set("Tmpfs", tmpfs);
  // Mounts rather than Binds: a missing host path is an error, not a new root-owned directory.
  Poco::JSON::Array::Ptr mounts = new Poco::JSON::Array;
  for (const auto& m : cfg_.binds) mounts->add(bind_mount(m));
  for (const auto& m : spec.mounts) mounts->add(bind_mount(m));
  host->set("Mounts", mounts);
  body.set("HostConfig", host);

  std::string path = "/containers/create?name=";
  path += Client::url_encode(name);
  // dockerd 20.10 on this kind of host sometimes hands runc a rootfs whose overlay is not
  // mounted (more often while other containers are created or removed): runc then works in the
  // bare 0700 mount point and fails with "stat /sbin/docker-init: permission denied". Such a
  // start always fails for uid 1000, so a new container is tried, with a growing pause.
  std::string last_error;
  int pause_ms = 100;
  for (int attempt = 1; attempt <= 6; ++attempt) {
    Response created = client_->post(path, body, 60000);
    if (created.status != 201) {
      std::string msg = "cannot create the sandbox container: ";
      msg += created.message();
      throw std::runtime_error(msg);
    }
    const std::string cid = created.object()->getValue<std::string>("Id");
    auto box = std::make_unique<DockerBox>(client_, cid);
    Response started = client_->post(container_path(cid) + "/start", 60000);
    if (started.status == 204 || started.status == 304) return box;
    last_error = started.message();
    box.reset();  // removes the container
    const bool runtime_failure =
        last_error.find("OCI runtime create failed") != std::string::npos ||
        last_error.find("failed to create shim task") != std::string::npos;
    if (!runtime_failure || attempt == 6) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    pause_ms = std::min(pause_ms * 2, 1000);
  }
  std::string msg = "cannot start the sandbox container: ";
  msg += last_error;
  throw std::runtime_error(msg);
}

int DockerDriver::reap_leftovers() {
  std::string path = "/containers/json?all=1&filters=";
  path += Client::url_encode(R"({"label":["alpaca.sandbox"]})");
  Response r = client_->get(path, 60000);
  if (!r.ok()) {
    std::string msg = "cannot list sandbox containers: ";
    msg += r.message();
    throw std::runtime_error(msg);
  }
  int count = 0;
  auto list = r.array();
  for (size_t i = 0; i < list->size(); ++i) {
    auto c = list->getObject(static_cast<unsigned>(i));
    if (!c) continue;
    bool ours = false;
    if (auto names = c->getArray("Names")) {
      for (size_t j = 0; j < names->size(); ++j) {
        std::string n = names->getElement<std::string>(static_cast<unsigned>(j));
        if (!n.empty() && n[0] == '/') n.erase(0, 1);
        if (n.compare(0, cfg_.name_prefix.size(), cfg_.name_prefix) == 0) ours = true;
      }
    }
    if (!ours) continue;
    std::string del = container_path(c->getValue<std::string>("Id"));
    del += "?force=true&v=true";
    Response d = client_->del(del, 60000);
    if (d.ok() || d.status == 404 || d.status == 409) ++count;
  }
  return count;
}

}  // namespace sandboxes
