// The isolation driver interface: what the sandboxes API (and, through the alpaca.isolation C
// interface, functions and hosting) needs from an isolation technology. Two drivers implement
// it: bubblewrap + cgroups (default) and a Docker engine.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sandboxes {

struct Limits {
  uint64_t memory_bytes = 512ull << 20;  // no swap on top
  uint32_t cpu_millis = 500;             // 500 = half a CPU
  uint32_t pids = 256;                   // processes + threads
  uint64_t disk_bytes = 256ull << 20;    // each writable mount (/app, /home/user, /tmp)
};

// A host directory made visible inside the box (build output for hosting, say).
struct Mount {
  std::string host_path;
  std::string box_path;
  bool read_only = true;
};

struct BoxSpec {
  std::string id;  // "sbx_…": unique, [a-z0-9_], used in cgroup/container names
  Limits limits;
  bool network = true;  // outbound through a user-mode stack; loopback/private ranges blocked
  std::vector<Mount> mounts;
};

struct ExecSpec {
  std::vector<std::string> argv;                         // argv[0] looked up in PATH
  std::vector<std::pair<std::string, std::string>> env;  // added to the box's defaults
  std::string cwd = "/app";                              // inside the box
  std::string stdin_data;
  uint32_t timeout_ms = 60000;
  size_t output_limit = 1 << 20;  // per stream; more is read and dropped
};

struct ExecResult {
  std::string stdout_data;
  std::string stderr_data;
  int exit_code = -1;  // 128 + signal when killed by one
  bool truncated = false;
  bool timed_out = false;      // the timeout killed the process tree
  bool out_of_memory = false;  // the memory limit killed a process
  uint64_t duration_ms = 0;
};

// Thrown by file operations: an HTTP-ish status (400 bad path, 404 missing, 409 not running,
// 413 too large, 507 box full) and a message for the caller.
class BoxError : public std::runtime_error {
 public:
  BoxError(int status, const std::string& message, std::string detail = {})
      : std::runtime_error(message), status_(status), detail_(std::move(detail)) {}
  int status() const { return status_; }
  const std::string& detail() const { return detail_; }

 private:
  int status_;
  std::string detail_;
};

// One running box. All methods are safe to call from several threads at once.
class Box {
 public:
  virtual ~Box() = default;
  // Runs argv to completion (or timeout). Whatever the process left running is killed when it
  // returns. Throws BoxError(409) when the box is no longer running.
  virtual ExecResult exec(const ExecSpec& spec) = 0;
  // Starts argv in the background (a server, say) with stdout+stderr appended to `log_path`
  // inside the box; returns a handle for stop_process. It runs until stopped or the box ends.
  virtual uint64_t spawn(const ExecSpec& spec, const std::string& log_path) = 0;
  // True while the spawned process runs; when it has ended, *exit_code says how.
  virtual bool process_running(uint64_t handle, int* exit_code) = 0;
  virtual void stop_process(uint64_t handle) = 0;
  // Makes TCP port `box_port` inside the box reachable on 127.0.0.1:<returned port> of the host.
  virtual uint16_t expose_port(uint16_t box_port) = 0;
  // Files, by absolute path inside the box. Paths never leave the box: "..", symlinks and
  // /proc tricks resolve inside it or fail (BoxError 400/404).
  virtual std::string read_file(const std::string& path, size_t max_bytes) = 0;
  virtual void write_file(const std::string& path, const std::string& data) = 0;
  // False once the box's init is gone (killed, crashed).
  virtual bool alive() = 0;
  // Kills everything in the box and frees its resources (cgroups, network helper, container).
  // Idempotent.
  virtual void destroy() = 0;
};

class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::string name() const = 0;
  // Starts a box; returns when it is ready to exec. Throws std::runtime_error with a message
  // fit for the API caller when it cannot.
  virtual std::unique_ptr<Box> start(const BoxSpec& spec) = 0;
  // At server start: kills and frees whatever boxes a previous run of this server left behind.
  // Returns how many it found.
  virtual int reap_leftovers() = 0;
  // At server stop, after every box was destroyed: frees what the driver itself holds.
  virtual void shutdown() {}
};

}  // namespace sandboxes
