#include "cgroup.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sandboxes {

namespace {

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Writes `value` to a cgroup control file; false (errno kept) when the kernel refuses.
bool write_text(const std::string& path, const std::string& value) {
  FILE* f = std::fopen(path.c_str(), "we");
  if (!f) return false;
  bool ok = std::fwrite(value.data(), 1, value.size(), f) == value.size();
  ok = (std::fclose(f) == 0) && ok;
  return ok;
}

void must_write(const std::string& path, const std::string& value) {
  if (!write_text(path, value))
    throw std::runtime_error("cannot write " + value + " to " + path + ": " + std::strerror(errno));
}

void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
    throw std::runtime_error("cannot create cgroup " + path + ": " + std::strerror(errno));
}

// Mount points of cgroup file systems, from /proc/self/mountinfo.
struct Mounts {
  std::string unified;
  std::string memory, cpu, pids;
};

Mounts find_mounts() {
  Mounts m;
  std::ifstream f("/proc/self/mountinfo");
  for (std::string line; std::getline(f, line);) {
    // ... mount_point ... - fstype source super_options
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream pre(line.substr(0, dash)), post(line.substr(dash + 3));
    std::string id, parent, devno, root, point;
    pre >> id >> parent >> devno >> root >> point;
    std::string fstype, source, opts;
    post >> fstype >> source >> opts;
    if (fstype == "cgroup2") {
      if (m.unified.empty()) m.unified = point;
    } else if (fstype == "cgroup") {
      std::set<std::string> o;
      std::istringstream os(opts);
      for (std::string t; std::getline(os, t, ',');) o.insert(t);
      if (o.count("memory") && m.memory.empty()) m.memory = point;
      if (o.count("cpu") && m.cpu.empty()) m.cpu = point;
      if (o.count("pids") && m.pids.empty()) m.pids = point;
    }
  }
  return m;
}

}  // namespace

std::optional<Cgroups> Cgroups::detect(const std::string& root_name, std::string* why) {
  Mounts m = find_mounts();
  Cgroups c;
  c.root_name_ = root_name;
  if (!m.memory.empty() && !m.cpu.empty() && !m.pids.empty()) {
    c.memory_ = m.memory;
    c.cpu_ = m.cpu;
    c.pids_ = m.pids;
  } else if (!m.unified.empty()) {
    std::string controllers = read_text(m.unified + "/cgroup.controllers");
    for (const char* need : {"memory", "cpu", "pids"}) {
      if (controllers.find(need) == std::string::npos) {
        *why = std::string("cgroup v2 at ") + m.unified + " lacks the " + need + " controller";
        return std::nullopt;
      }
    }
    c.v2_ = true;
    c.unified_ = m.unified;
  } else {
    *why = "no cgroup file system with the memory, cpu and pids controllers is mounted";
    return std::nullopt;
  }
  try {
    // root_name may have several levels ("alpaca-sandboxes/d-<data dir hash>"): make each, and
    // on v2 hand the controllers down each level.
    if (c.v2_) write_text(c.unified_ + "/cgroup.subtree_control", "+memory +cpu +pids");
    for (size_t end = 0; end != std::string::npos;) {
      end = root_name.find('/', end + 1);
      std::string prefix = root_name.substr(0, end);
      std::vector<std::string> mounts = c.v2_
                                            ? std::vector<std::string>{c.unified_}
                                            : std::vector<std::string>{c.memory_, c.cpu_, c.pids_};
      for (const auto& m : mounts) make_dir(m + "/" + prefix);
      if (c.v2_)
        must_write(c.unified_ + "/" + prefix + "/cgroup.subtree_control", "+memory +cpu +pids");
      // CPU weight is shared among siblings: with the default, all sandboxes together would
      // weigh as much as one host process and crawl on a busy machine. Give the tree the weight
      // of 16 processes; each box is still capped by its own quota (cpu_millis).
      if (c.v2_)
        write_text(c.unified_ + "/" + prefix + "/cpu.weight", "1600");
      else
        write_text(c.cpu_ + "/" + prefix + "/cpu.shares", "16384");
    }
  } catch (const std::exception& e) {
    *why = e.what();
    return std::nullopt;
  }
  return c;
}

std::vector<std::string> Cgroups::dirs(const std::string& rel) const {
  std::string suffix = "/" + root_name_;
  if (!rel.empty()) {
    suffix += '/';
    suffix += rel;
  }
  if (v2_) return {unified_ + suffix};
  return {memory_ + suffix, cpu_ + suffix, pids_ + suffix};
}

void Cgroups::create_box(const std::string& box, const Limits& l) const {
  for (const auto& d : dirs(box)) make_dir(d);
  std::string mem = std::to_string(l.memory_bytes);
  std::string quota = std::to_string(static_cast<uint64_t>(l.cpu_millis) * 100);  // of 100 ms
  if (v2_) {
    std::string d = dirs(box)[0];
    must_write(d + "/memory.max", mem);
    if (exists(d + "/memory.swap.max")) must_write(d + "/memory.swap.max", "0");
    must_write(d + "/cpu.max", quota + " 100000");
    must_write(d + "/pids.max", std::to_string(l.pids));
    must_write(d + "/cgroup.subtree_control", "+memory +cpu +pids");
    return;
  }
  auto d = dirs(box);
  must_write(d[0] + "/memory.limit_in_bytes", mem);
  // Without swap accounting memsw does not exist; swappiness 0 keeps the box in RAM anyway.
  if (exists(d[0] + "/memory.memsw.limit_in_bytes"))
    must_write(d[0] + "/memory.memsw.limit_in_bytes", mem);
  write_text(d[0] + "/memory.swappiness", "0");
  must_write(d[1] + "/cpu.cfs_period_us", "100000");
  must_write(d[1] + "/cpu.cfs_quota_us", quota);
  must_write(d[2] + "/pids.max", std::to_string(l.pids));
}

std::vector<std::string> Cgroups::create_leaf(const std::string& box,
                                              const std::string& leaf) const {
  std::vector<std::string> procs;
  for (const auto& d : dirs(box + "/" + leaf)) {
    make_dir(d);
    procs.push_back(d + "/cgroup.procs");
  }
  return procs;
}

std::vector<int> Cgroups::pids(const std::string& rel) const {
  std::set<int> out;
  // Processes in the leaves below count too (v1 cgroup.procs lists only the directory's own).
  std::vector<std::string> todo = dirs(rel);
  while (!todo.empty()) {
    std::string d = todo.back();
    todo.pop_back();
    std::ifstream f(d + "/cgroup.procs");
    for (int pid; f >> pid;) out.insert(pid);
    if (DIR* dir = ::opendir(d.c_str())) {
      while (dirent* e = ::readdir(dir)) {
        if (e->d_type == DT_DIR && e->d_name[0] != '.') todo.push_back(d + "/" + e->d_name);
      }
      ::closedir(dir);
    }
  }
  return {out.begin(), out.end()};
}

void Cgroups::kill_all(const std::string& box, const std::string& leaf) const {
  std::string rel = leaf.empty() ? box : box + "/" + leaf;
  if (v2_ && write_text(dirs(rel)[0] + "/cgroup.kill", "1")) {
    // cgroup.kill (5.14+) kills atomically; wait for the processes to be gone.
    for (int i = 0; i < 200 && !pids(rel).empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return;
  }
  // A process may fork while we kill; the pids limit bounds that, so a few rounds end it.
  for (int round = 0; round < 400; ++round) {
    auto list = pids(rel);
    if (list.empty()) return;
    for (int pid : list) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(round < 20 ? 1 : 10));
  }
}

void Cgroups::remove_leaf(const std::string& box, const std::string& leaf) const {
  for (const auto& d : dirs(box + "/" + leaf)) ::rmdir(d.c_str());
}

void Cgroups::remove_box(const std::string& box) const {
  kill_all(box);
  for (const auto& d : dirs(box)) {
    if (DIR* dir = ::opendir(d.c_str())) {
      std::vector<std::string> leaves;
      while (dirent* e = ::readdir(dir)) {
        if (e->d_type == DT_DIR && e->d_name[0] != '.') leaves.push_back(d + "/" + e->d_name);
      }
      ::closedir(dir);
      for (const auto& l : leaves) {
        // A dying process can keep its cgroup busy for a moment.
        for (int i = 0; i < 100 && ::rmdir(l.c_str()) != 0 && errno == EBUSY; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    for (int i = 0; i < 100 && ::rmdir(d.c_str()) != 0 && errno == EBUSY; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

uint64_t Cgroups::oom_kills(const std::string& rel) const {
  std::string d = dirs(rel)[0];
  std::ifstream f(v2_ ? d + "/memory.events" : d + "/memory.oom_control");
  for (std::string key; f >> key;) {
    uint64_t v = 0;
    f >> v;
    if (key == "oom_kill") return v;
  }
  return 0;
}

void Cgroups::remove_root() const {
  for (const auto& d : dirs("")) ::rmdir(d.c_str());
}

std::vector<std::string> Cgroups::boxes() const {
  std::vector<std::string> out;
  std::string d = dirs("")[0];
  if (DIR* dir = ::opendir(d.c_str())) {
    while (dirent* e = ::readdir(dir)) {
      if (e->d_type == DT_DIR && e->d_name[0] != '.') out.push_back(e->d_name);
    }
    ::closedir(dir);
  }
  return out;
}

}  // namespace sandboxes
