// The Docker isolation driver: one container per box, talking to the engine's API over its unix
// socket (docker_client.hpp).
//
// A box is a container of `image` with a read-only root, all capabilities dropped,
// no-new-privileges, uid 1000, tmpfs /app, /home/user and /tmp, the box's memory/CPU/pids limits
// and Docker's init as PID 1. Its main process is a small sh "supervisor" that reads commands on
// its stdin (sent through the attach API) and kills process trees with shell builtins only, so
// it works even when a fork bomb has used up the pids limit.
//
// Every exec runs under a sh wrapper that prints its pid (= the exec's session id: runc makes
// each exec a session leader) and the memory cgroup's oom_kill counter, runs argv, then kills
// what is left in its session. After the exec (or at its timeout) the driver asks the
// supervisor to kill the session and any process that escaped it (setsid, daemons) carrying
// the exec's ALPACA_EXEC_ID marker in its environment.
//
// Files are read and written through execs too: the engine's archive API does not see tmpfs
// mounts.
//
// Network: "bridge" or "none". Docker's bridge does not block the host, loopback or private
// ranges the way the bubblewrap driver's slirp4netns does. expose_port() relays
// 127.0.0.1:<ephemeral> on the host to the box's bridge address (so the server in the box must
// listen on 0.0.0.0); boxes without network cannot expose ports.
//
// Image requirements: `sh` (a POSIX shell with `local`: dash, bash, busybox), coreutils-ish
// `cat`, `head`, `wc`, `mkdir`, `readlink`, `rm`; a real /sbin directory (or one Docker can
// create /sbin/docker-init in: with /usr bound read-only from the host, /sbin must not be a
// link into /usr); /etc for Docker's hosts/resolv.conf files.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "isolation/driver.hpp"

namespace sandboxes {

namespace docker {
class Client;
}

struct DockerConfig {
  std::string socket = "/var/run/docker.sock";
  std::string image;
  // Extra binds in every box, e.g. /usr:/usr read-only for an image made with `docker import`.
  std::vector<Mount> binds;
  // Container names are name_prefix + box id; reap_leftovers() removes only these.
  std::string name_prefix = "alpaca-sbx-";
};

class DockerDriver : public Driver {
 public:
  explicit DockerDriver(DockerConfig cfg);
  ~DockerDriver() override;

  std::string name() const override { return "docker"; }
  std::unique_ptr<Box> start(const BoxSpec& spec) override;
  int reap_leftovers() override;

 private:
  DockerConfig cfg_;
  std::shared_ptr<docker::Client> client_;
};

}  // namespace sandboxes
