// cgroups for boxes, on v1 (one hierarchy per controller) and v2 (one unified hierarchy):
// <root>/<box id> carries the limits, <root>/<box id>/<leaf> holds processes (the box's init,
// one leaf per exec), so an exec's whole process tree can be killed without touching the rest.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "driver.hpp"

namespace sandboxes {

class Cgroups {
 public:
  // Finds the memory, cpu and pids controllers. Empty (with *why set) when they are missing or
  // <root> cannot be created there (not root, no delegation).
  static std::optional<Cgroups> detect(const std::string& root_name, std::string* why);

  bool v2() const { return v2_; }
  // Makes <root>/<box> with the limits. Throws std::runtime_error.
  void create_box(const std::string& box, const Limits& limits) const;
  // Makes <root>/<box>/<leaf>; returns the cgroup.procs files a process writes its pid into.
  std::vector<std::string> create_leaf(const std::string& box, const std::string& leaf) const;
  // SIGKILLs every process in <root>/<box>/<leaf> (leaf "" = the whole box) until none is left.
  void kill_all(const std::string& box, const std::string& leaf = {}) const;
  void remove_leaf(const std::string& box, const std::string& leaf) const;
  // Kills and removes the box's cgroups. Idempotent.
  void remove_box(const std::string& box) const;
  // How many processes of `rel` (a box, or "box/leaf") the memory limit has killed so far.
  uint64_t oom_kills(const std::string& rel) const;
  // Removes <root> itself when no box is left in it (at shutdown).
  void remove_root() const;
  // Box names found under <root> (left by an earlier run).
  std::vector<std::string> boxes() const;

 private:
  std::vector<std::string> dirs(const std::string& rel) const;  // one per hierarchy
  std::vector<int> pids(const std::string& rel) const;
  bool v2_ = false;
  std::string root_name_;
  std::string unified_;              // v2 mount
  std::string memory_, cpu_, pids_;  // v1 mounts
};

}  // namespace sandboxes
