// The alpaca_host_api table: the host's side of the plugin ABI.
#include <Poco/File.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/String.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>

#include "auth/jwt.hpp"
#include "control/control_plane.hpp"
#include "core/app.hpp"
#include "http/connection.hpp"
#include "http/context.hpp"
#include "plugins/host_handle.hpp"

namespace alpaca {
namespace {

void api_log(alpaca_host* h, alpaca_log_level level, const char* msg) {
  static const spdlog::level::level_enum map[] = {spdlog::level::trace, spdlog::level::debug,
                                                  spdlog::level::info, spdlog::level::warn,
                                                  spdlog::level::err};
  auto lvl = level <= ALPACA_LOG_ERROR ? map[level] : spdlog::level::err;
  spdlog::log(lvl, "[{}] {}", h->plugin, msg ? msg : "");
}

const char* api_config_get(alpaca_host* h, const char* key, const char* fallback) {
  if (!key) return fallback;
  auto v = h->app->config().find(h->plugin + "." + key);
  return v ? h->app->config().intern(*v) : fallback;
}

const char* api_data_dir(alpaca_host* h) {
  return h->app->config().intern(h->app->settings().data_dir);
}

alpaca_status api_register_route(alpaca_host* h, alpaca_route_scope scope, const char* method,
                                 const char* pattern, uint32_t flags, alpaca_handler_fn handler,
                                 void* user) {
  if (!h->registering) {
    spdlog::error("[{}] register_route called outside create()", h->plugin);
    return ALPACA_ERR_STATE;
  }
  if (!method || !pattern || !handler || scope > ALPACA_SCOPE_PUBLIC) return ALPACA_ERR_INVALID;
  Route r;
  r.scope = scope;
  r.method = method;
  r.pattern = pattern;
  r.flags = flags;
  r.handler = handler;
  r.user = user;
  r.owner = h->plugin;
  try {
    if (auto owner = h->app->router().add(std::move(r))) {
      h->route_conflict = true;
      h->conflict = std::string("route ") + method + " " + pattern + " is already registered by " +
                    (*owner == h->plugin ? "this plugin" : "plugin '" + *owner + "'");
      return ALPACA_ERR_CONFLICT;
    }
  } catch (const std::invalid_argument& e) {
    h->error = e.what();
    return ALPACA_ERR_INVALID;
  }
  return ALPACA_OK;
}

const char* req_method(alpaca_request* r) {
  return r->method.c_str();
}
const char* req_path(alpaca_request* r) {
  return r->path.c_str();
}

const char* req_param(alpaca_request* r, const char* name) {
  if (!name) return nullptr;
  for (const auto& [k, v] : r->params)
    if (k == name) return v.c_str();
  return nullptr;
}

const char* req_query_string(alpaca_request* r) {
  return r->query_string.c_str();
}

const char* req_query(alpaca_request* r, const char* name) {
  if (!name) return nullptr;
  if (!r->query) {
    r->query.emplace();
    std::string_view qs = r->query_string;
    size_t i = 0;
    while (i <= qs.size() && !qs.empty()) {
      size_t amp = qs.find('&', i);
      if (amp == std::string_view::npos) amp = qs.size();
      std::string_view part = qs.substr(i, amp - i);
      if (!part.empty()) {
        size_t eq = part.find('=');
        auto k = percent_decode(part.substr(0, eq), true);
        auto v = eq == std::string_view::npos ? std::optional<std::string>("")
                                              : percent_decode(part.substr(eq + 1), true);
        if (k && v) r->query->emplace_back(std::move(*k), std::move(*v));
      }
      i = amp + 1;
    }
  }
  for (const auto& [k, v] : *r->query)
    if (k == name) return v.c_str();
  return nullptr;
}

const char* req_header(alpaca_request* r, const char* name) {
  if (!name) return nullptr;
  auto it = r->http->find(name);
  return it == r->http->end() ? nullptr : it->second.c_str();
}

alpaca_status req_header_at(alpaca_request* r, size_t index, const char** name,
                            const char** value) {
  if (!r->headers_listed) {
    for (const auto& [k, v] : *r->http) r->header_list.emplace_back(k, v);
    r->headers_listed = true;
  }
  if (index >= r->header_list.size()) return ALPACA_ERR_NOT_FOUND;
  if (name) *name = r->header_list[index].first.c_str();
  if (value) *value = r->header_list[index].second.c_str();
  return ALPACA_OK;
}

int64_t req_content_length(alpaca_request* r) {
  return r->http->hasContentLength() ? static_cast<int64_t>(r->http->getContentLength64()) : -1;
}

// The body ended before Content-Length said, or a chunked body ended with the client gone (Poco
// takes a closed connection for the last chunk, so the terminating chunk cannot be told apart).
bool body_cut_short(alpaca_request& r) {
  if (r.http->hasContentLength()) return r.body_read < r.http->getContentLength64();
  if (!r.http->getChunkedTransferEncoding()) return false;
  auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(r.http);
  if (!impl) return false;
  char c;
  return ::recv(impl->socket().impl()->sockfd(), &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

// A Content-Length body read past Poco's 4 KiB stream buffer: what that buffer holds first, then
// straight from the connection, up to `cap` bytes per call (one recv for a 256 KiB upload piece
// instead of 64). nullopt when the request is not on one of our connections.
std::optional<int64_t> read_body_direct(alpaca_request& r, char* buf, size_t cap) {
  auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(r.http);
  if (!impl || !r.http->hasContentLength() || r.http->getChunkedTransferEncoding())
    return std::nullopt;
  std::istream& in = r.http->stream();
  int64_t left = r.http->getContentLength64() - r.body_read;
  if (left <= 0) {
    r.body_eof = true;
    return 0;
  }
  size_t want = static_cast<size_t>(std::min<int64_t>(left, static_cast<int64_t>(cap)));
  std::streamsize held = in.rdbuf()->in_avail();
  int64_t n = held > 0 ? in.rdbuf()->sgetn(buf, std::min<std::streamsize>(held, want))
                       : alpaca::read_from_session(impl->session(), buf, want);
  if (n < 0) return -1;
  if (n == 0) {  // the client went away before Content-Length bytes
    r.body_eof = true;
    return -1;
  }
  r.body_read += n;
  if (r.body_read == r.http->getContentLength64()) r.body_eof = true;
  return n;
}

int64_t req_read(alpaca_request* r, void* buf, size_t cap) {
  if (r->body_too_large) return -1;
  if (cap == 0) return 0;
  if (auto n = read_body_direct(*r, static_cast<char*>(buf), cap)) {
    if (*n > 0 && r->body_read > r->body_limit) {
      r->body_too_large = true;
      return -1;
    }
    return *n;
  }
  std::istream& in = r->http->stream();
  in.read(static_cast<char*>(buf), static_cast<std::streamsize>(cap));
  int64_t n = in.gcount();
  if (in.bad()) return -1;
  r->body_read += n;
  if (in.eof()) {
    r->body_eof = true;
    // Poco ends a body quietly when the client goes away: a short one is not a whole body.
    if (body_cut_short(*r)) return -1;
  }
  if (r->body_read > r->body_limit) {
    r->body_too_large = true;
    return -1;
  }
  return n;
}

const alpaca_project* req_project(alpaca_request* r) {
  return r->project ? &r->project_view : nullptr;
}
const alpaca_caller* req_caller(alpaca_request* r) {
  return &r->caller;
}

alpaca_status res_status(alpaca_response* res, int status) {
  if (res->committed) return ALPACA_ERR_STATE;
  if (status < 100 || status > 599) return ALPACA_ERR_INVALID;
  res->http->setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  return ALPACA_OK;
}

alpaca_status res_header(alpaca_response* res, const char* name, const char* value) {
  if (res->committed) return ALPACA_ERR_STATE;
  if (!name || !value || std::strpbrk(name, "\r\n:") || std::strpbrk(value, "\r\n"))
    return ALPACA_ERR_INVALID;
  if (Poco::icompare(std::string(name), "Content-Type") == 0)
    res->http->setContentType(value);
  else
    res->http->add(name, value);
  return ALPACA_OK;
}

alpaca_status res_send(alpaca_response* res, const void* data, size_t len) {
  if (res->committed) return ALPACA_ERR_STATE;
  try {
    res->committed = res->finished = true;
    alpaca::send_whole(*res, data, len);
    return ALPACA_OK;
  } catch (const std::exception&) {
    return ALPACA_ERR_IO;
  }
}

alpaca_status res_write(alpaca_response* res, const void* data, size_t len) {
  if (res->finished) return ALPACA_ERR_STATE;
  try {
    if (!res->committed) {
      // A length the handler announced (a file's size) is kept; otherwise chunked.
      if (!res->http->hasContentLength()) res->http->setChunkedTransferEncoding(true);
      res->stream = &res->http->send();
      res->committed = true;
    }
    res->stream->write(static_cast<const char*>(data), static_cast<std::streamsize>(len));
    return res->stream->good() ? ALPACA_OK : ALPACA_ERR_IO;
  } catch (const std::exception&) {
    return ALPACA_ERR_IO;
  }
}

alpaca_status res_end(alpaca_response* res) {
  if (res->finished) return ALPACA_OK;
  if (!res->committed) return res_send(res, "", 0);
  res->finished = true;
  res->stream->flush();
  return res->stream->good() ? ALPACA_OK : ALPACA_ERR_IO;
}

alpaca_status res_send_file(alpaca_response* res, const char* path, const char* content_type) {
  if (res->committed) return ALPACA_ERR_STATE;
  if (!path) return ALPACA_ERR_INVALID;
  try {
    Poco::File f(path);
    if (!f.exists() || !f.isFile()) return ALPACA_ERR_NOT_FOUND;
    res->committed = res->finished = true;
    res->http->sendFile(path, content_type ? content_type : "application/octet-stream");
    return ALPACA_OK;
  } catch (const Poco::FileNotFoundException&) {
    return ALPACA_ERR_NOT_FOUND;
  } catch (const std::exception&) {
    return ALPACA_ERR_IO;
  }
}

alpaca_status res_error(alpaca_response* res, int status, const char* message, const char* detail) {
  if (res->committed) return ALPACA_ERR_STATE;
  send_error(*res, status, message ? message : "Error", detail ? detail : "");
  return ALPACA_OK;
}

alpaca_status api_provide(alpaca_host* h, const char* name, uint32_t version, const void* table) {
  if (!name || !table) return ALPACA_ERR_INVALID;
  std::string owner = h->app->interfaces().provide(name, version, table, h->plugin);
  if (!owner.empty()) {
    h->error = std::string("interface ") + name + " is already provided by '" + owner + "'";
    return ALPACA_ERR_CONFLICT;
  }
  return ALPACA_OK;
}

const void* api_get(alpaca_host* h, const char* name, uint32_t min_version) {
  return name ? h->app->interfaces().get(name, min_version) : nullptr;
}

void api_set_error(alpaca_host* h, const char* message) {
  h->error = message ? message : "";
}

const char* req_client_address(alpaca_request* r) {
  if (!r->client_address_known) {
    r->client_address_known = true;
    try {
      if (r->http && r->trust_forwarded_for) {
        std::string xff = r->http->get("X-Forwarded-For", "");
        std::string first = Poco::trim(xff.substr(0, xff.find(',')));
        Poco::Net::IPAddress ip;
        if (!first.empty() && Poco::Net::IPAddress::tryParse(first, ip))
          r->client_address = ip.toString();
      }
      if (r->client_address.empty() && r->http)
        r->client_address = r->http->clientAddress().host().toString();
    } catch (const std::exception&) {
      r->client_address.clear();
    }
  }
  return r->client_address.c_str();
}

char* api_project_jwt_sign(alpaca_host* h, const char* ref, const char* payload_json) {
  if (!ref || !payload_json) return nullptr;
  try {
    Poco::JSON::Parser parser;
    if (parser.parse(payload_json).type() != typeid(Poco::JSON::Object::Ptr)) return nullptr;
    auto project = h->app->control().project(ref);
    if (!project) return nullptr;
    return strdup(jwt::sign(payload_json, project->jwt_secret).c_str());
  } catch (const std::exception&) {
    return nullptr;
  }
}

void api_free_string(char* s) {
  free(s);
}

alpaca_status api_on_project_created(alpaca_host* h, alpaca_project_hook_fn fn, void* user) {
  if (!h->registering) {
    spdlog::error("[{}] on_project_created called outside create()", h->plugin);
    return ALPACA_ERR_STATE;
  }
  if (!fn) return ALPACA_ERR_INVALID;
  h->app->project_hooks().push_back({fn, user, h->plugin});
  return ALPACA_OK;
}

alpaca_status res_send_fd(alpaca_response* res, int fd, uint64_t offset, uint64_t length) {
  return send_fd(*res, fd, offset, length);
}

const alpaca_host_api kTable = {
    sizeof(alpaca_host_api),
    ALPACA_ABI_MAJOR,
    ALPACA_ABI_MINOR,
    api_log,
    api_config_get,
    api_data_dir,
    api_register_route,
    req_method,
    req_path,
    req_param,
    req_query_string,
    req_query,
    req_header,
    req_header_at,
    req_content_length,
    req_read,
    req_project,
    req_caller,
    res_status,
    res_header,
    res_send,
    res_write,
    res_end,
    res_send_file,
    res_error,
    api_provide,
    api_get,
    api_set_error,
    req_client_address,
    api_project_jwt_sign,
    api_free_string,
    api_on_project_created,
    res_send_fd,
};

}  // namespace

const alpaca_host_api* host_api_table() {
  return &kTable;
}

}  // namespace alpaca
