#include "settings.hpp"

#include <sstream>
#include <stdexcept>

namespace sandboxes {

namespace {

int64_t number(const alpaca::Host& host, const char* key, int64_t fallback, int64_t min,
               int64_t max) {
  std::string v = host.config(key, std::to_string(fallback).c_str());
  size_t used = 0;
  int64_t n = 0;
  try {
    n = std::stoll(v, &used);
  } catch (...) {
    used = 0;
  }
  if (used == 0 || used != v.size() || n < min || n > max)
    throw std::runtime_error(std::string("sandboxes.") + key + " must be a whole number from " +
                             std::to_string(min) + " to " + std::to_string(max) + ", not '" + v +
                             "'");
  return n;
}

bool flag(const alpaca::Host& host, const char* key, bool fallback) {
  std::string v = host.config(key, fallback ? "true" : "false");
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  throw std::runtime_error(std::string("sandboxes.") + key + " must be true or false, not '" + v +
                           "'");
}

}  // namespace

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    auto b = item.find_first_not_of(" \t");
    auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

Settings read_settings(const alpaca::Host& host) {
  Settings s;
  s.driver = host.config("driver", "bwrap");
  if (s.driver != "bwrap" && s.driver != "docker")
    throw std::runtime_error("sandboxes.driver must be bwrap or docker, not '" + s.driver + "'");
  s.max_per_account = static_cast<int>(number(host, "max_per_account", 5, 1, 100000));
  s.ttl_seconds = number(host, "ttl_seconds", 1800, 1, 30 * 86400);
  s.exec_per_minute = static_cast<int>(number(host, "exec_per_minute", 60, 1, 1000000));
  s.exec_timeout_ms = static_cast<uint32_t>(number(host, "exec_timeout_ms", 60000, 1, 86400000));
  s.exec_timeout_max_ms =
      static_cast<uint32_t>(number(host, "exec_timeout_max_ms", 600000, 1, 86400000));
  s.output_limit = static_cast<size_t>(number(host, "output_limit", 1 << 20, 1, 1ll << 30));
  s.max_file_bytes = static_cast<size_t>(number(host, "max_file_bytes", 50 << 20, 1, 1ll << 34));
  s.limits.memory_bytes = static_cast<uint64_t>(number(host, "memory_mb", 512, 16, 1 << 20)) << 20;
  s.limits.cpu_millis = static_cast<uint32_t>(number(host, "cpu_millis", 500, 10, 1024000));
  s.limits.pids = static_cast<uint32_t>(number(host, "pids", 256, 8, 1 << 22));
  s.limits.disk_bytes = static_cast<uint64_t>(number(host, "disk_mb", 256, 1, 1 << 24)) << 20;
  s.network = flag(host, "network", true);
  s.warm_pool = static_cast<int>(number(host, "warm_pool", 1, 0, 64));
  s.run_as_uid = static_cast<uint32_t>(number(host, "run_as_uid", 65533, 1, 4294967294ll));
  s.run_as_gid = static_cast<uint32_t>(number(host, "run_as_gid", 65533, 1, 4294967294ll));
  s.cgroup_root = host.config("cgroup_root", "alpaca-sandboxes");
  s.require_limits = flag(host, "require_limits", true);
  s.helper = host.config("helper", "");
  s.ro_binds = split_list(host.config(
      "ro_binds",
      "/usr,/etc/ssl,/etc/ca-certificates,/etc/alternatives,/etc/ld.so.cache,/etc/localtime,"
      "/etc/python3,/etc/python3.11,/etc/mime.types"));
  s.blocked_ranges = split_list(
      host.config("blocked_ranges",
                  "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,169.254.0.0/16,0.0.0.0/8,"
                  "127.0.0.0/8,192.0.0.0/24,198.18.0.0/15,224.0.0.0/4,240.0.0.0/4"));
  s.keep_ended_hours = number(host, "keep_ended_hours", 24, 0, 24 * 365);
  s.docker_socket = host.config("docker_socket", "/var/run/docker.sock");
  s.docker_image = host.config("docker_image", "alpaca-sandbox:latest");
  s.docker_binds = host.config("docker_binds", "");
  return s;
}

}  // namespace sandboxes
