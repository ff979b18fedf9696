// The default driver: a box is a bubblewrap instance (new user, pid, mount, ipc, uts and net
// namespaces) whose init sleeps; every exec enters it through alpaca-sandbox-enter. Limits come
// from cgroups, outbound network from slirp4netns.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "cgroup.hpp"
#include "driver.hpp"

namespace sandboxes {

struct BwrapConfig {
  std::string helper;  // alpaca-sandbox-enter
  std::string bwrap = "bwrap";
  std::string slirp4netns = "slirp4netns";
  std::string ip = "ip";
  std::string nsenter = "nsenter";
  std::string run_dir;  // host dir for the network helpers' sockets
  uid_t host_uid = 0;   // who the box runs as on the host (when the server is root)
  gid_t host_gid = 0;
  std::vector<std::string> ro_binds;  // host paths shown read-only at the same place, if present
  std::optional<Cgroups> cgroups;     // none: no limits (only when allowed by config)
  std::vector<std::string> blocked_cidrs;  // unreachable from a box with network
};

class BwrapDriver : public Driver {
 public:
  explicit BwrapDriver(BwrapConfig cfg);
  std::string name() const override { return "bwrap"; }
  std::unique_ptr<Box> start(const BoxSpec& spec) override;
  int reap_leftovers() override;
  void shutdown() override {
    if (cfg_.cgroups) cfg_.cgroups->remove_root();
  }

 private:
  BwrapConfig cfg_;
};

// Absolute path of `program` found in PATH, or "" (for clear errors at start).
std::string find_program(const std::string& program);

}  // namespace sandboxes
