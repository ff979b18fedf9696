#include "isolation_abi.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>

#include "service.hpp"

// A box handed to another plugin. Calls may overlap box_destroy: destroy kills the box (running
// calls return), then waits for the calls in flight before freeing it.
struct alpaca_isolation_box {
  std::unique_ptr<sandboxes::Box> box;
  std::mutex mu;
  std::condition_variable idle;
  int calls = 0;
};

namespace sandboxes {

namespace {

std::atomic<Service*> g_service{nullptr};

void put_error(char* err, size_t cap, const std::string& msg) {
  if (!err || cap == 0) return;
  std::snprintf(err, cap, "%s", msg.c_str());
}

// Counts a call in flight on a box for box_destroy.
class InCall {
 public:
  explicit InCall(alpaca_isolation_box* b) : b_(b) {
    if (!b_) throw std::runtime_error("no box");
    std::lock_guard<std::mutex> lock(b_->mu);
    ++b_->calls;
  }
  ~InCall() {
    std::lock_guard<std::mutex> lock(b_->mu);
    if (--b_->calls == 0) b_->idle.notify_all();
  }
  InCall(const InCall&) = delete;
  InCall& operator=(const InCall&) = delete;

 private:
  alpaca_isolation_box* b_;
};

template <typename T>
bool has(const T* s, size_t end) {
  return s && s->struct_size >= end;
}

std::vector<std::string> list(const char* const* items) {
  std::vector<std::string> out;
  for (; items && *items; ++items) out.emplace_back(*items);
  return out;
}

ExecSpec to_exec(const alpaca_isolation_command* c) {
  if (!c) throw std::runtime_error("no command given");
  if (!has(c, sizeof(alpaca_isolation_command)))
    throw std::runtime_error("the command's struct_size is smaller than version 1's");
  if (!c->argv || !c->argv[0]) throw std::runtime_error("a command needs argv");
  const Settings& s = g_service.load()->settings();
  ExecSpec e;
  e.argv = list(c->argv);
  for (const auto& kv : list(c->env)) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      throw std::runtime_error("env entry without '=': " + kv);
    e.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  if (c->cwd) e.cwd = c->cwd;
  if (c->stdin_data && c->stdin_len)
    e.stdin_data.assign(static_cast<const char*>(c->stdin_data), c->stdin_len);
  e.timeout_ms = c->timeout_ms ? c->timeout_ms : s.exec_timeout_ms;
  e.output_limit = c->output_limit ? static_cast<size_t>(c->output_limit) : s.output_limit;
  return e;
}

char* copy_out(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (!p) return nullptr;
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  return p;
}

alpaca_isolation_box* box_start(const alpaca_isolation_spec* spec, char* err, size_t cap) {
  try {
    Service* svc = g_service.load();
    if (!svc) throw std::runtime_error("the sandboxes plugin is not started");
    BoxSpec b;
    static std::atomic<uint64_t> counter{0};
    std::random_device rd;
    b.id = "iso_" + std::to_string(rd() % 1000000) + "_" + std::to_string(++counter);
    b.limits = svc->settings().limits;
    b.network = svc->settings().network;
    if (spec && spec->struct_size < sizeof(alpaca_isolation_spec))
      throw std::runtime_error("the spec's struct_size is smaller than version 1's");
    if (spec) {
      if (spec->memory_bytes) b.limits.memory_bytes = spec->memory_bytes;
      if (spec->cpu_millis) b.limits.cpu_millis = spec->cpu_millis;
      if (spec->pids) b.limits.pids = spec->pids;
      if (spec->disk_bytes) b.limits.disk_bytes = spec->disk_bytes;
      if (spec->network >= 0) b.network = spec->network != 0;
      for (const auto& m : list(spec->mounts)) {
        Mount mt;
        auto c1 = m.find(':');
        if (c1 == std::string::npos) throw std::runtime_error("mount without ':': " + m);
        auto c2 = m.find(':', c1 + 1);
        mt.host_path = m.substr(0, c1);
        mt.box_path = m.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1);
        mt.read_only = c2 == std::string::npos || m.substr(c2 + 1) != "rw";
        if (mt.host_path.empty() || mt.box_path.empty() || mt.box_path[0] != '/')
          throw std::runtime_error("bad mount: " + m);
        b.mounts.push_back(mt);
      }
    }
    auto* out = new alpaca_isolation_box;
    try {
      out->box = svc->start_box(b);
    } catch (...) {
      delete out;
      throw;
    }
    return out;
  } catch (const std::exception& e) {
    put_error(err, cap, e.what());
    return nullptr;
  }
}

void box_destroy(alpaca_isolation_box* b) {
  if (!b) return;
  try {
    b->box->destroy();
  } catch (...) {
  }
  {
    std::unique_lock<std::mutex> lock(b->mu);
    b->idle.wait(lock, [&] { return b->calls == 0; });
  }
  delete b;
}

int box_alive(alpaca_isolation_box* b) {
  try {
    InCall in(b);
    return b->box->alive() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

int exec(alpaca_isolation_box* b, const alpaca_isolation_command* c, alpaca_isolation_result* out,
         char* err, size_t cap) {
  try {
    if (!out) throw std::runtime_error("a result is required");
    InCall in(b);
    ExecResult r = b->box->exec(to_exec(c));
    std::memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->exit_code = r.exit_code;
    out->timed_out = r.timed_out;
    out->out_of_memory = r.out_of_memory;
    out->truncated = r.truncated;
    out->duration_ms = r.duration_ms;
    out->stdout_data = copy_out(r.stdout_data);
    out->stdout_len = r.stdout_data.size();
    out->stderr_data = copy_out(r.stderr_data);
    out->stderr_len = r.stderr_data.size();
    return 0;
  } catch (const std::exception& e) {
    put_error(err, cap, e.what());
    return -1;
  }
}

void result_free(alpaca_isolation_result* r) {
  if (!r) return;
  std::free(r->stdout_data);
  std::free(r->stderr_data);
  r->stdout_data = r->stderr_data = nullptr;
}

uint64_t spawn(alpaca_isolation_box* b, const alpaca_isolation_command* c, const char* log_path,
               char* err, size_t cap) {
  try {
    InCall in(b);
    return b->box->spawn(to_exec(c), log_path ? log_path : "");
  } catch (const std::exception& e) {
    put_error(err, cap, e.what());
    return 0;
  }
}

int process_running(alpaca_isolation_box* b, uint64_t handle, int* exit_code) {
  try {
    InCall in(b);
    return b->box->process_running(handle, exit_code) ? 1 : 0;
  } catch (...) {
    return -1;
  }
}

void process_stop(alpaca_isolation_box* b, uint64_t handle) {
  try {
    InCall in(b);
    b->box->stop_process(handle);
  } catch (...) {
  }
}

uint16_t expose_port(alpaca_isolation_box* b, uint16_t port, char* err, size_t cap) {
  try {
    InCall in(b);
    return b->box->expose_port(port);
  } catch (const BoxError& e) {
    put_error(err, cap, std::string(e.what()) + (e.detail().empty() ? "" : ": " + e.detail()));
  } catch (const std::exception& e) {
    put_error(err, cap, e.what());
  }
  return 0;
}

int write_file(alpaca_isolation_box* b, const char* path, const void* data, size_t len, char* err,
               size_t cap) {
  try {
    if (!path) throw std::runtime_error("a path is required");
    InCall in(b);
    b->box->write_file(path, std::string(static_cast<const char*>(data), data ? len : 0));
    return 0;
  } catch (const BoxError& e) {
    put_error(err, cap, std::string(e.what()) + (e.detail().empty() ? "" : ": " + e.detail()));
  } catch (const std::exception& e) {
    put_error(err, cap, e.what());
  }
  return -1;
}

void* read_file(alpaca_isolation_box* b, const char* path, size_t max_len, size_t* len, char* err,
                size_t cap) {
  try {
    if (!path || !len) throw std::runtime_error("path and len are required");
    InCall in(b);
    if (max_len == 0) max_len = g_service.load()->settings().max_file_bytes;
    std::string data = b->box->read_file(path, max_len);
    *len = data.size();
    return copy_out(data);
  } catch (const BoxError& e) {
    put_error(err, cap, std::string(e.what()) + (e.detail().empty() ? "" : ": " + e.detail()));
  } catch (const std::exception& e) {
    put_error(err, cap, e.what());
  }
  return nullptr;
}

void free_buffer(void* p) {
  std::free(p);
}

const alpaca_isolation_api kTable = {
    sizeof(alpaca_isolation_api),
    box_start,
    box_destroy,
    box_alive,
    exec,
    result_free,
    spawn,
    process_running,
    process_stop,
    expose_port,
    write_file,
    read_file,
    free_buffer,
};

}  // namespace

const alpaca_isolation_api* isolation_table() {
  return &kTable;
}
void bind_isolation(Service* svc) {
  g_service.store(svc);
}

}  // namespace sandboxes
