// Header-only C++ layer over the Alpaca plugin C ABI (plugin.h). Uses only the standard library.
// Nothing here crosses the boundary: handlers are std::function objects owned by the plugin, and
// every exception is caught in the trampoline before control returns to the host.
//
//   class Hello : public alpaca::Plugin {
//    public:
//     explicit Hello(alpaca::Host& host) : Plugin(host) {
//       host.route(ALPACA_SCOPE_PUBLIC, "GET", "/hello/:name",
//                  [](alpaca::Request& req, alpaca::Response& res) {
//                    res.json(200, "{\"hello\":\"" + std::string(req.param("name")) + "\"}");
//                  });
//     }
//   };
//   ALPACA_PLUGIN(Hello, "hello", "1.0.0", "Says hello")
#ifndef ALPACA_PLUGIN_HPP
#define ALPACA_PLUGIN_HPP

#include <alpaca/plugin.h>

#include <cstring>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace alpaca {

// Throw from a handler to answer {"error": message, "detail": detail} with `status`.
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message, std::string detail = {})
      : std::runtime_error(message), status_(status), detail_(std::move(detail)) {}
  int status() const { return status_; }
  const std::string& detail() const { return detail_; }

 private:
  int status_;
  std::string detail_;
};

// Escapes a string for inclusion in a JSON document (without the surrounding quotes).
inline std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          static const char* hex = "0123456789abcdef";
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

class Request {
 public:
  Request(const alpaca_host_api* api, alpaca_request* req) : api_(api), req_(req) {}

  std::string_view method() const { return api_->request_method(req_); }
  std::string_view path() const { return api_->request_path(req_); }
  // "" when absent; use has_param to tell apart.
  std::string_view param(const char* name) const {
    return or_empty(api_->request_param(req_, name));
  }
  bool has_param(const char* name) const { return api_->request_param(req_, name) != nullptr; }
  std::string_view query_string() const { return api_->request_query_string(req_); }
  const char* query(const char* name) const { return api_->request_query(req_, name); }
  const char* header(const char* name) const { return api_->request_header(req_, name); }
  int64_t content_length() const { return api_->request_content_length(req_); }
  // Reads up to cap bytes; 0 at the end; throws when the body is too large or the read fails.
  size_t read(void* buf, size_t cap) {
    int64_t n = api_->request_read(req_, buf, cap);
    if (n < 0) throw HttpError(413, "Request body could not be read or is too large");
    return static_cast<size_t>(n);
  }
  // The whole body (bounded by the server's limit).
  std::string body() {
    std::string out;
    char buf[16384];
    for (size_t n; (n = read(buf, sizeof buf)) > 0;) out.append(buf, n);
    return out;
  }
  // The client's IP address (minor 1; "" on an older host).
  std::string_view client_address() const {
    return ALPACA_HOST_HAS_MINOR(api_, 1) ? or_empty(api_->request_client_address(req_))
                                          : std::string_view();
  }
  const alpaca_project* project() const { return api_->request_project(req_); }
  const alpaca_caller& caller() const { return *api_->request_caller(req_); }
  alpaca_request* raw() const { return req_; }

 private:
  static std::string_view or_empty(const char* s) {
    return s ? std::string_view(s) : std::string_view();
  }
  const alpaca_host_api* api_;
  alpaca_request* req_;
};

class Response {
 public:
  Response(const alpaca_host_api* api, alpaca_response* res) : api_(api), res_(res) {}

  Response& status(int code) {
    check(api_->response_status(res_, code));
    return *this;
  }
  Response& header(const char* name, const std::string& value) {
    check(api_->response_header(res_, name, value.c_str()));
    return *this;
  }
  void send(std::string_view body) {
    check(api_->response_send(res_, body.data(), body.size()));
    done_ = true;
  }
  void json(int code, std::string_view body) {
    status(code).header("Content-Type", "application/json");
    send(body);
  }
  void write(std::string_view chunk) {
    check(api_->response_write(res_, chunk.data(), chunk.size()));
  }
  void end() {
    check(api_->response_end(res_));
    done_ = true;
  }
  void send_file(const char* path, const char* content_type = nullptr) {
    check(api_->response_send_file(res_, path, content_type));
    done_ = true;
  }
  // Whether the host can send_fd (minor 2); else stream the bytes with write().
  bool can_send_fd() const noexcept { return ALPACA_HOST_HAS_MINOR(api_, 2); }
  // Sends `length` bytes of the open file `fd` from `offset` as the whole body, with sendfile(2)
  // (minor 2). Set status and headers first; Content-Length is `length`. fd stays open and its
  // offset unchanged. False on an older host or a bad argument (nothing sent, the response is
  // still open), or when the file ended early or the client went away (the response is over and
  // the connection closes). Throws nothing.
  bool send_fd(int fd, uint64_t offset, uint64_t length) noexcept {
    if (!ALPACA_HOST_HAS_MINOR(api_, 2)) return false;
    alpaca_status s = api_->response_send_fd(res_, fd, offset, length);
    if (s != ALPACA_ERR_INVALID) done_ = true;
    return s == ALPACA_OK;
  }
  void error(int code, const std::string& message, const std::string& detail = {}) {
    api_->response_error(res_, code, message.c_str(), detail.empty() ? nullptr : detail.c_str());
    done_ = true;
  }
  bool done() const { return done_; }
  alpaca_response* raw() const { return res_; }

 private:
  static void check(alpaca_status s) {
    if (s != ALPACA_OK) throw std::runtime_error("response write failed");
  }
  const alpaca_host_api* api_;
  alpaca_response* res_;
  bool done_ = false;
};

using Handler = std::function<void(Request&, Response&)>;

// The plugin's view of the host: logging, config, routes, interfaces.
class Host {
 public:
  Host(alpaca_host* host, const alpaca_host_api* api) : host_(host), api_(api) {}

  void log(alpaca_log_level level, const std::string& msg) const {
    api_->log(host_, level, msg.c_str());
  }
  void info(const std::string& msg) const { log(ALPACA_LOG_INFO, msg); }
  void warn(const std::string& msg) const { log(ALPACA_LOG_WARN, msg); }
  void error(const std::string& msg) const { log(ALPACA_LOG_ERROR, msg); }

  std::string config(const char* key, const char* fallback = "") const {
    const char* v = api_->config_get(host_, key, fallback);
    return v ? v : "";
  }
  std::string data_dir() const { return api_->data_dir(host_); }

  // Registers a handler; throws on a duplicate route (the host then refuses the plugin).
  void route(alpaca_route_scope scope, const char* method, const char* pattern, Handler handler,
             uint32_t flags = 0) {
    handlers_.push_back(Bound{this, std::move(handler)});
    alpaca_status s = api_->register_route(host_, scope, method, pattern, flags, &Host::trampoline,
                                           &handlers_.back());
    if (s != ALPACA_OK) {
      handlers_.pop_back();
      throw std::runtime_error(std::string("cannot register route ") + method + " " + pattern);
    }
  }

  void provide(const char* name, uint32_t version, const void* table) {
    if (api_->provide_interface(host_, name, version, table) != ALPACA_OK)
      throw std::runtime_error(std::string("cannot provide interface ") + name);
  }
  template <typename T>
  const T* get(const char* name, uint32_t min_version) const {
    return static_cast<const T*>(api_->get_interface(host_, name, min_version));
  }

  // An HS256 JWT over payload_json signed with the project's secret (minor 1). Throws when the
  // host is older, the project is unknown or the payload is not a JSON object.
  std::string sign_project_jwt(const std::string& project_ref,
                               const std::string& payload_json) const {
    if (!ALPACA_HOST_HAS_MINOR(api_, 1))
      throw std::runtime_error("the host cannot sign project tokens (ABI minor 1 needed)");
    char* t = api_->project_jwt_sign(host_, project_ref.c_str(), payload_json.c_str());
    if (!t) throw std::runtime_error("cannot sign a token for project " + project_ref);
    std::string out(t);
    api_->free_string(t);
    return out;
  }

  // Runs fn(project_ref) after each project is created (minor 1; only in the constructor).
  // Exceptions are caught and logged.
  void on_project_created(std::function<void(const std::string&)> fn) {
    if (!ALPACA_HOST_HAS_MINOR(api_, 1))
      throw std::runtime_error("the host has no project hooks (ABI minor 1 needed)");
    project_hooks_.push_back(ProjectHook{this, std::move(fn)});
    if (api_->on_project_created(host_, &Host::project_trampoline, &project_hooks_.back()) !=
        ALPACA_OK) {
      project_hooks_.pop_back();
      throw std::runtime_error("cannot register a project hook");
    }
  }

  const alpaca_host_api* api() const { return api_; }
  alpaca_host* raw() const { return host_; }

 private:
  struct Bound {
    Host* self;
    Handler fn;
  };
  static alpaca_status trampoline(void* user, alpaca_request* req, alpaca_response* res) noexcept {
    auto* b = static_cast<Bound*>(user);
    Request rq(b->self->api_, req);
    Response rs(b->self->api_, res);
    try {
      b->fn(rq, rs);
      return ALPACA_OK;
    } catch (const HttpError& e) {
      if (!rs.done()) rs.error(e.status(), e.what(), e.detail());
      return ALPACA_OK;
    } catch (const std::exception& e) {
      if (!rs.done()) rs.error(500, "Internal error", e.what());
      return ALPACA_OK;
    } catch (...) {
      if (!rs.done()) rs.error(500, "Internal error");
      return ALPACA_OK;
    }
  }

  struct ProjectHook {
    Host* self;
    std::function<void(const std::string&)> fn;
  };
  static void project_trampoline(void* user, const char* ref) noexcept {
    auto* h = static_cast<ProjectHook*>(user);
    try {
      h->fn(ref ? ref : "");
    } catch (const std::exception& e) {
      h->self->error(std::string("project hook failed for ") + (ref ? ref : "?") + ": " + e.what());
    } catch (...) {
      h->self->error(std::string("project hook failed for ") + (ref ? ref : "?"));
    }
  }

  alpaca_host* host_;
  const alpaca_host_api* api_;
  std::list<Bound> handlers_;  // stable addresses: the host keeps pointers to them
  std::list<ProjectHook> project_hooks_;
};

// Base class for plugins written in C++. The constructor runs in create().
class Plugin {
 public:
  explicit Plugin(Host& host) : host_(host) {}
  virtual ~Plugin() = default;
  virtual void start() {}
  virtual void stop() {}
  Host& host() { return host_; }

 private:
  Host& host_;
};

namespace detail {
template <typename P>
struct Holder {
  Host host;
  std::unique_ptr<P> plugin;
};

template <typename P>
alpaca_status create(alpaca_host* h, const alpaca_host_api* api, void** state) noexcept {
  auto* holder = new (std::nothrow) Holder<P>{Host(h, api), nullptr};
  if (!holder) return ALPACA_ERR_INTERNAL;
  try {
    holder->plugin = std::make_unique<P>(holder->host);
    *state = holder;
    return ALPACA_OK;
  } catch (const std::exception& e) {
    api->set_error(h, e.what());
  } catch (...) {
    api->set_error(h, "unknown exception in create");
  }
  delete holder;
  return ALPACA_ERR_INTERNAL;
}
template <typename P>
alpaca_status start(void* state) noexcept {
  auto* holder = static_cast<Holder<P>*>(state);
  try {
    holder->plugin->start();
    return ALPACA_OK;
  } catch (const std::exception& e) {
    holder->host.api()->set_error(holder->host.raw(), e.what());
  } catch (...) {
    holder->host.api()->set_error(holder->host.raw(), "unknown exception in start");
  }
  return ALPACA_ERR_INTERNAL;
}
template <typename P>
void stop(void* state) noexcept {
  try {
    static_cast<Holder<P>*>(state)->plugin->stop();
  } catch (...) {
  }
}
template <typename P>
void destroy(void* state) noexcept {
  try {
    delete static_cast<Holder<P>*>(state);
  } catch (...) {
  }
}
}  // namespace detail

}  // namespace alpaca

// Defines the exported entry point for plugin class CLASS. Further arguments name the plugins it
// depends on: ALPACA_PLUGIN(Rest, "rest", "1.0.0", "Auto REST", "auth").
#define ALPACA_PLUGIN(CLASS, NAME, VERSION, DESCRIPTION, ...)                          \
  extern "C" ALPACA_EXPORT const alpaca_plugin_descriptor* ALPACA_PLUGIN_ENTRY(void) { \
    static const char* const deps[] = {__VA_ARGS__ __VA_OPT__(, ) nullptr};            \
    static const alpaca_plugin_descriptor d = {sizeof(alpaca_plugin_descriptor),       \
                                               ALPACA_ABI_MAJOR,                       \
                                               ALPACA_ABI_MINOR,                       \
                                               NAME,                                   \
                                               VERSION,                                \
                                               DESCRIPTION,                            \
                                               deps,                                   \
                                               &alpaca::detail::create<CLASS>,         \
                                               &alpaca::detail::start<CLASS>,          \
                                               &alpaca::detail::stop<CLASS>,           \
                                               &alpaca::detail::destroy<CLASS>};       \
    return &d;                                                                         \
  }

#endif  // ALPACA_PLUGIN_HPP
