// The plugin's knobs (config keys sandboxes.*, env ALPACA_SANDBOXES_*), read once at create().
#pragma once

#include <alpaca/plugin.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "isolation/driver.hpp"

namespace sandboxes {

struct Settings {
  std::string driver = "bwrap";
  int max_per_account = 5;
  int64_t ttl_seconds = 1800;
  int exec_per_minute = 60;
  uint32_t exec_timeout_ms = 60000;
  uint32_t exec_timeout_max_ms = 600000;
  size_t output_limit = 1 << 20;
  size_t max_file_bytes = 50u << 20;
  Limits limits;
  bool network = true;
  int warm_pool = 1;
  uint32_t run_as_uid = 65533, run_as_gid = 65533;
  std::string cgroup_root = "alpaca-sandboxes";
  bool require_limits = true;
  std::string helper;  // "" = alpaca-sandbox-enter next to the plugin
  std::vector<std::string> ro_binds;
  std::vector<std::string> blocked_ranges;
  int64_t keep_ended_hours = 24;
  std::string docker_socket = "/var/run/docker.sock";
  std::string docker_image = "alpaca-sandbox:latest";
  std::string docker_binds;  // "host:box[:ro],..." added to every container
};

// Throws std::runtime_error naming the key when a value is malformed.
Settings read_settings(const alpaca::Host& host);

std::vector<std::string> split_list(const std::string& s);

}  // namespace sandboxes
