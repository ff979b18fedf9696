#include "service.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <dirent.h>
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>

#include "isolation/bwrap_driver.hpp"
#include "isolation/docker_driver.hpp"

namespace sandboxes {

namespace {

std::string random_id() {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::string id = "sbx_";
  for (int i = 0; i < 16; ++i) id += alphabet[rd() % 36];
  return id;
}

// The directory this plugin was loaded from: alpaca-sandbox-enter is installed beside it.
std::string plugin_dir() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&plugin_dir), &info) == 0 || !info.dli_fname) return ".";
  std::string p = info.dli_fname;
  auto slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

// A short stable name for this data dir, so servers sharing a machine never reap each other's
// cgroups.
std::string dir_key(const std::string& dir) {
  char real[PATH_MAX];
  std::string d = ::realpath(dir.c_str(), real) ? real : dir;
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : d) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string("d-") + buf;
}

void make_dirs(const std::string& path) {
  for (size_t i = 1; i != std::string::npos;) {
    i = path.find('/', i + 1);
    ::mkdir(path.substr(0, i).c_str(), 0711);
  }
}

bool active(const Record& r) {
  return r.status == "creating" || r.status == "running";
}

}  // namespace

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string iso_time(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

Service::Service(alpaca::Host& host, Settings settings)
    : host_(host), settings_(std::move(settings)) {}

Service::~Service() {
  stop();
}

std::string Service::records_dir() const {
  return host_.data_dir() + "/sandboxes/records";
}

void Service::start() {
  std::string base = host_.data_dir() + "/sandboxes";
  make_dirs(records_dir());
  make_dirs(base + "/run");
  if (settings_.driver == "docker") {
    DockerConfig dc;
    dc.socket = settings_.docker_socket;
    dc.image = settings_.docker_image;
    for (const auto& b : split_list(settings_.docker_binds)) {
      Mount m;
      auto c1 = b.find(':');
      auto c2 = b.find(':', c1 == std::string::npos ? c1 : c1 + 1);
      m.host_path = b.substr(0, c1);
      m.box_path = c1 == std::string::npos ? m.host_path : b.substr(c1 + 1, c2 - c1 - 1);
      m.read_only = c2 == std::string::npos || b.substr(c2 + 1) != "rw";
      dc.binds.push_back(m);
    }
    dc.name_prefix = "alpaca-" + dir_key(host_.data_dir()) + "-";
    driver_ = std::make_unique<DockerDriver>(dc);
  } else {
    BwrapConfig bc;
    bc.helper =
        settings_.helper.empty() ? plugin_dir() + "/alpaca-sandbox-enter" : settings_.helper;
    bc.run_dir = base + "/run";
    bc.ro_binds = settings_.ro_binds;
    bc.blocked_cidrs = settings_.blocked_ranges;
    bc.host_uid = ::geteuid() == 0 ? settings_.run_as_uid : ::geteuid();
    bc.host_gid = ::geteuid() == 0 ? settings_.run_as_gid : ::getegid();
    std::string why;
    bc.cgroups = Cgroups::detect(settings_.cgroup_root + "/" + dir_key(host_.data_dir()), &why);
    if (!bc.cgroups) {
      if (settings_.require_limits)
        unavailable_ = "cgroups cannot be used (" + why +
                       "); run the server as root or with a delegated cgroup, or set "
                       "sandboxes.require_limits=false to run sandboxes without limits";
      else
        host_.warn("sandboxes: running without memory/CPU/pids limits: " + why);
    }
    if (::access(bc.helper.c_str(), X_OK) != 0)
      unavailable_ = "the helper " + bc.helper + " is missing (sandboxes.helper)";
    if (find_program("bwrap").empty())
      unavailable_ = "bubblewrap (bwrap) is not installed: apt-get install bubblewrap";
    if (settings_.network && find_program("slirp4netns").empty())
      unavailable_ =
          "slirp4netns is not installed (apt-get install slirp4netns), or set "
          "sandboxes.network=false";
    driver_ = std::make_unique<BwrapDriver>(std::move(bc));
  }
  if (!unavailable_.empty()) {
    host_.warn("sandboxes: unavailable: " + unavailable_);
  } else {
    try {
      int n = driver_->reap_leftovers();
      if (n > 0) host_.info("sandboxes: reaped " + std::to_string(n) + " box(es) of the last run");
    } catch (const std::exception& e) {
      // An engine that is not there (yet): the rest of the server runs; sandboxes answer 503.
      unavailable_ = std::string("the ") + driver_->name() + " driver cannot work: " + e.what();
      host_.warn("sandboxes: unavailable: " + unavailable_);
    }
  }
  load_records();
  reaper_ = std::thread([this] { reaper_loop(); });
  fill_pool();
  host_.info("sandboxes: driver " + driver_->name() + ", warm pool " +
             std::to_string(settings_.warm_pool) +
             (settings_.network ? ", network on" : ", network off"));
}

void Service::stop() {
  std::vector<std::shared_ptr<Box>> boxes;
  std::deque<std::unique_ptr<Box>> pool;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    cv_.notify_all();
    cv_.wait_for(lock, std::chrono::seconds(30), [&] { return booting_ == 0; });
    for (auto& [id, e] : entries_) {
      if (e.box) boxes.push_back(e.box);
      if (active(e.rec)) end(e, "stopped", "The server stopped");
    }
    pool.swap(pool_);
  }
  if (reaper_.joinable()) reaper_.join();
  for (auto& b : boxes) b->destroy();
  for (auto& b : pool) b->destroy();
  if (driver_) driver_->shutdown();
}

BoxSpec Service::default_spec(const std::string& id) const {
  BoxSpec s;
  s.id = id;
  s.limits = settings_.limits;
  s.network = settings_.network;
  return s;
}

void Service::fill_pool() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || !unavailable_.empty()) return;
  // Boots in flight that will land in the pool count as filling it.
  int want = settings_.warm_pool - static_cast<int>(pool_.size());
  for (int i = pool_boots_; i < want; ++i) {
    ++booting_;
    ++pool_boots_;
    std::thread([this] {
      std::unique_ptr<Box> box;
      std::string id = random_id();
      try {
        box = driver_->start(default_spec(id));
      } catch (const std::exception& e) {
        host_.warn(std::string("sandboxes: cannot boot a pooled box: ") + e.what());
      }
      std::lock_guard<std::mutex> lock(mu_);
      --pool_boots_;
      if (box && !stopping_) {
        pooled_ids_[box.get()] = id;
        pool_.push_back(std::move(box));
      } else if (box)
        box->destroy();
      --booting_;
      cv_.notify_all();
    }).detach();
  }
}

Record Service::create(const std::string& owner, const std::string& runtime,
                       const std::string& label) {
  Record r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!unavailable_.empty())
      throw alpaca::HttpError(503, "Sandboxes are unavailable on this server", unavailable_);
    if (stopping_) throw alpaca::HttpError(503, "The server is stopping");
    int mine = 0;
    for (auto& [id, e] : entries_) mine += (e.rec.owner == owner && active(e.rec)) ? 1 : 0;
    if (mine >= settings_.max_per_account)
      throw alpaca::HttpError(
          429, "Too many sandboxes",
          "At most " + std::to_string(settings_.max_per_account) +
              " sandboxes may run at once for one account; delete one (DELETE /sandboxes/:id) "
              "or wait for one to expire");
    Entry e;
    r.owner = owner;
    r.runtime = runtime;
    r.label = label;
    r.created_ms = now_ms();
    r.expires_ms = r.created_ms + settings_.ttl_seconds * 1000;
    if (!pool_.empty()) {
      // A pooled box was booted with a fresh id; the sandbox takes it.
      std::unique_ptr<Box> box = std::move(pool_.front());
      pool_.pop_front();
      r.id = pooled_ids_.count(box.get()) ? pooled_ids_[box.get()] : random_id();
      pooled_ids_.erase(box.get());
      r.status = "running";
      e.box = std::move(box);
    } else {
      r.id = random_id();
      r.status = "creating";
      ++booting_;
      std::thread([this, id = r.id] { boot(id); }).detach();
    }
    e.rec = r;
    entries_[r.id] = std::move(e);
  }
  save(r);
  fill_pool();
  return r;
}

void Service::boot(std::string id) {
  std::unique_ptr<Box> box;
  std::string error;
  try {
    box = driver_->start(default_spec(id));
  } catch (const std::exception& e) {
    error = e.what();
  }
  std::shared_ptr<Box> discard;
  std::optional<Record> changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.rec.status != "creating" || stopping_) {
      discard = std::move(box);  // deleted while it booted
    } else if (!box) {
      end(it->second, "failed", "The sandbox could not start: " + error);
      host_.warn("sandboxes: " + id + " failed to start: " + error);
    } else {
      it->second.box = std::move(box);
      it->second.rec.status = "running";
      changed = it->second.rec;
    }
    --booting_;
    cv_.notify_all();
  }
  if (changed) save(*changed);
  if (discard) discard->destroy();
}

// Marks an entry ended; the caller destroys its box (outside the lock).
void Service::end(Entry& e, const std::string& status, const std::string& error) {
  e.rec.status = status;
  e.rec.ended_ms = now_ms();
  if (!error.empty()) e.rec.error = error;
  save(e.rec);
}

std::vector<Record> Service::list(const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Record> out;
  for (auto& [id, e] : entries_)
    if (e.rec.owner == owner) out.push_back(e.rec);
  std::sort(out.begin(), out.end(),
            [](const Record& a, const Record& b) { return a.created_ms > b.created_ms; });
  return out;
}

// The owner's entry (mu_ held); another owner's is as unknown as a missing one.
Service::Entry& Service::owned(const std::string& owner, const std::string& id) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.rec.owner != owner)
    throw alpaca::HttpError(404, "Sandbox not found", "No sandbox " + id + " of yours");
  return it->second;
}

Record Service::get(const std::string& owner, const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  return owned(owner, id).rec;
}

Record Service::remove(const std::string& owner, const std::string& id) {
  std::shared_ptr<Box> box;
  Record r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& e = owned(owner, id);
    if (active(e.rec)) end(e, "stopped");
    box = std::move(e.box);
    r = e.rec;
  }
  if (box) box->destroy();
  return r;
}

std::shared_ptr<Box> Service::running_box(const std::string& owner, const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = owned(owner, id);
  if (e.rec.status != "running" || !e.box)
    throw alpaca::HttpError(
        409, "Sandbox is not running",
        "Sandbox " + id + " is " + e.rec.status +
            (e.rec.status == "creating" ? "; poll GET /sandboxes/" + id + " until status=running"
                                        : ""));
  return e.box;
}

ExecResult Service::exec(const std::string& owner, const std::string& id, const ExecSpec& spec) {
  std::shared_ptr<Box> box = running_box(owner, id);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& execs = entries_[id].execs;
    auto now = std::chrono::steady_clock::now();
    while (!execs.empty() && now - execs.front() >= std::chrono::minutes(1)) execs.pop_front();
    if (static_cast<int>(execs.size()) >= settings_.exec_per_minute) {
      auto wait = std::chrono::duration_cast<std::chrono::seconds>(execs.front() +
                                                                   std::chrono::minutes(1) - now);
      throw alpaca::HttpError(429, "Exec rate limit exceeded",
                              "At most " + std::to_string(settings_.exec_per_minute) +
                                  " execs per minute per sandbox; retry in " +
                                  std::to_string(wait.count() + 1) + " s");
    }
    execs.push_back(now);
  }
  return box->exec(spec);
}

std::string Service::read_file(const std::string& owner, const std::string& id,
                               const std::string& path) {
  return running_box(owner, id)->read_file(path, settings_.max_file_bytes);
}

void Service::write_file(const std::string& owner, const std::string& id, const std::string& path,
                         const std::string& data) {
  if (data.size() > settings_.max_file_bytes)
    throw alpaca::HttpError(413, "File too large",
                            "The limit is " + std::to_string(settings_.max_file_bytes) +
                                " bytes (sandboxes.max_file_bytes)");
  running_box(owner, id)->write_file(path, data);
}

std::unique_ptr<Box> Service::start_box(const BoxSpec& spec) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!unavailable_.empty())
      throw std::runtime_error("sandboxes are unavailable: " + unavailable_);
  }
  return driver_->start(spec);
}

void Service::reaper_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(500));
    if (stopping_) break;
    int64_t now = now_ms();
    std::vector<std::shared_ptr<Box>> doomed;
    std::vector<std::string> forget;
    for (auto& [id, e] : entries_) {
      if (e.rec.status == "running" && now >= e.rec.expires_ms) {
        end(e, "expired",
            "The sandbox reached its time limit (" + std::to_string(settings_.ttl_seconds) + " s)");
        doomed.push_back(std::move(e.box));
      } else if (e.rec.status == "running" && e.box && !e.box->alive()) {
        end(e, "failed", "The sandbox's processes ended unexpectedly");
        doomed.push_back(std::move(e.box));
      } else if (!active(e.rec) && e.rec.ended_ms > 0 &&
                 now - e.rec.ended_ms > settings_.keep_ended_hours * 3600 * 1000) {
        forget.push_back(id);
      }
    }
    for (const auto& id : forget) {
      entries_.erase(id);
      ::unlink((records_dir() + "/" + id + ".json").c_str());
    }
    if (doomed.empty()) continue;
    lock.unlock();
    for (auto& b : doomed)
      if (b) b->destroy();
    lock.lock();
  }
}

std::string Service::record_json(const Record& r) const {
  Poco::JSON::Object o;
  o.set("id", r.id);
  o.set("runtime", r.runtime);
  o.set("label", r.label);
  o.set("status", r.status);
  o.set("created_at", iso_time(r.created_ms));
  o.set("expires_at", iso_time(r.expires_ms));
  if (r.ended_ms)
    o.set("ended_at", iso_time(r.ended_ms));
  else
    o.set("ended_at", Poco::Dynamic::Var());
  if (!r.error.empty()) o.set("error", r.error);
  if (r.status == "creating")
    o.set("note", "Poll GET /sandboxes/" + r.id + " until status=running before exec");
  else if (r.status == "running")
    o.set("note", "Running: POST /sandboxes/" + r.id + "/exec runs code");
  else
    o.set("note", "Ended (" + r.status + "): create a new sandbox to run more code");
  Poco::JSON::Object limits;
  limits.set("memory_mb", settings_.limits.memory_bytes >> 20);
  limits.set("cpus", settings_.limits.cpu_millis / 1000.0);
  limits.set("pids", settings_.limits.pids);
  limits.set("disk_mb", settings_.limits.disk_bytes >> 20);
  limits.set("network", settings_.network);
  limits.set("ttl_seconds", settings_.ttl_seconds);
  limits.set("exec_per_minute", settings_.exec_per_minute);
  limits.set("exec_timeout_ms", settings_.exec_timeout_ms);
  limits.set("output_limit", settings_.output_limit);
  o.set("limits", limits);
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

void Service::save(const Record& r) {
  Poco::JSON::Object o;
  o.set("id", r.id);
  o.set("owner", r.owner);
  o.set("runtime", r.runtime);
  o.set("label", r.label);
  o.set("status", r.status);
  o.set("error", r.error);
  o.set("created_ms", r.created_ms);
  o.set("expires_ms", r.expires_ms);
  o.set("ended_ms", r.ended_ms);
  std::string path = records_dir() + "/" + r.id + ".json";
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    o.stringify(f);
    if (!f) {
      host_.warn("sandboxes: cannot write " + tmp);
      return;
    }
  }
  std::rename(tmp.c_str(), path.c_str());
}

void Service::load_records() {
  DIR* d = ::opendir(records_dir().c_str());
  if (!d) return;
  std::vector<std::string> files;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 5 && n.compare(n.size() - 5, 5, ".json") == 0) files.push_back(n);
  }
  ::closedir(d);
  int reaped = 0;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& n : files) {
    try {
      std::ifstream f(records_dir() + "/" + n);
      auto o = Poco::JSON::Parser().parse(f).extract<Poco::JSON::Object::Ptr>();
      Entry e;
      e.rec.id = o->getValue<std::string>("id");
      e.rec.owner = o->getValue<std::string>("owner");
      e.rec.runtime = o->getValue<std::string>("runtime");
      e.rec.label = o->getValue<std::string>("label");
      e.rec.status = o->getValue<std::string>("status");
      e.rec.error = o->getValue<std::string>("error");
      e.rec.created_ms = o->getValue<int64_t>("created_ms");
      e.rec.expires_ms = o->getValue<int64_t>("expires_ms");
      e.rec.ended_ms = o->getValue<int64_t>("ended_ms");
      if (active(e.rec)) {
        end(e, "stopped", "The server restarted; the sandbox's processes were ended");
        ++reaped;
      }
      entries_[e.rec.id] = std::move(e);
    } catch (const std::exception& ex) {
      host_.warn("sandboxes: skipping unreadable record " + n + ": " + ex.what());
    }
  }
  if (reaped)
    host_.info("sandboxes: " + std::to_string(reaped) +
               " sandbox(es) of the last run marked stopped");
}

}  // namespace sandboxes
