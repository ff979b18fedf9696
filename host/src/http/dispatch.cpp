#include "http/dispatch.hpp"

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/String.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "auth/jwt.hpp"
#include "control/control_plane.hpp"
#include "core/app.hpp"
#include "http/context.hpp"

namespace alpaca {
namespace {

const char* kCorsHeaders =
    "apikey, authorization, content-type, x-client-info, prefer, range, accept-profile, "
    "content-profile, x-upsert, x-supabase-api-version, accept, accept-language, "
    "content-language, cache-control, x-requested-with, x-retry-count";
const char* kCorsMethods = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS";
const char* kCorsExpose =
    "content-range, content-location, content-length, x-supabase-api-version, x-sb-error-code, "
    "x-total-count, link";

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* caller_kind_name(alpaca_caller_kind k) {
  return k == ALPACA_CALLER_ACCOUNT ? "account" : k == ALPACA_CALLER_PROJECT_JWT ? "jwt" : "none";
}

std::string bearer(const Poco::Net::HTTPServerRequest& http) {
  auto it = http.find("Authorization");
  if (it == http.end()) return {};
  const std::string& v = it->second;
  if (v.size() > 7 && Poco::icompare(v.substr(0, 7), "bearer ") == 0) {
    size_t b = v.find_first_not_of(' ', 7);
    return b == std::string::npos ? std::string() : v.substr(b);
  }
  return {};
}

void attach_project(alpaca_request& r, std::shared_ptr<const ProjectRecord> p) {
  r.project = std::move(p);
  r.project_view.struct_size = sizeof(alpaca_project);
  r.project_view.ref = r.project->ref.c_str();
  r.project_view.name = r.project->name.c_str();
  r.project_view.database = r.project->database.c_str();
  r.project_view.server_url = r.project->server_url.c_str();
}

// PostgREST's code for a rejected token: PGRST303 for failed claims (expired), else PGRST301.
std::string jwt_error_code(const std::string& why) {
  return why.find("expired") != std::string::npos ? "PGRST303" : "PGRST301";
}

// Verifies a project JWT; fills the caller. Returns an error message, or "" when valid.
std::string accept_project_jwt(alpaca_request& r, const ProjectRecord& p,
                               const std::string& token) {
  std::string why;
  auto claims = jwt::verify(token, p.jwt_secret, now_seconds(), &why);
  if (!claims) return why;
  r.caller.kind = ALPACA_CALLER_PROJECT_JWT;
  r.caller_project = p.ref;
  r.role = claims->role.empty() ? "anon" : claims->role;
  r.subject = claims->sub;
  r.claims_json = claims->json;
  return {};
}

struct Target {
  alpaca_route_scope scope = ALPACA_SCOPE_MANAGEMENT;
  std::string ref;   // project scope: the project ref
  std::string path;  // scope-relative path
};

// /p/<ref>/rest → project scope; <ref>.<base_domain> → project scope; anything else → root.
Target resolve_target(const App& app, const Poco::Net::HTTPServerRequest& http,
                      const std::string& path) {
  Target t;
  const std::string& base = app.settings().base_domain;
  if (!base.empty() && http.has("Host")) {
    std::string host = Poco::toLower(http.getHost());
    if (size_t colon = host.rfind(':');
        colon != std::string::npos && host.find(']') == std::string::npos)
      host.resize(colon);
    if (host.size() > base.size() + 1 &&
        host.compare(host.size() - base.size(), base.size(), base) == 0 &&
        host[host.size() - base.size() - 1] == '.') {
      std::string ref = host.substr(0, host.size() - base.size() - 1);
      if (ref.find('.') == std::string::npos) {
        t.scope = ALPACA_SCOPE_PROJECT;
        t.ref = ref;
        t.path = path;
        return t;
      }
    }
  }
  if (path.size() > 3 && path.compare(0, 3, "/p/") == 0) {
    size_t slash = path.find('/', 3);
    t.scope = ALPACA_SCOPE_PROJECT;
    t.ref = path.substr(3, slash == std::string::npos ? std::string::npos : slash - 3);
    t.path = slash == std::string::npos ? "/" : path.substr(slash);
    return t;
  }
  t.path = path;
  return t;
}

void add_cors(const App& app, Poco::Net::HTTPServerResponse& res) {
  res.set("Access-Control-Allow-Origin", app.settings().cors_origin);
  res.set("Access-Control-Expose-Headers", kCorsExpose);
  if (app.settings().cors_origin != "*") res.set("Vary", "Origin");
}

// Sends 404 or 405 (with Allow) for a path no route of `m` answered.
void no_route(alpaca_request& req, alpaca_response& res, const RouteMatch& m) {
  if (m.allowed.empty())
    return send_error(res, 404, "Not found", "No route " + req.method + " " + req.path);
  std::string allowed = Poco::cat(std::string(", "), m.allowed.begin(), m.allowed.end());
  res.http->set("Allow", allowed);
  send_error(res, 405, "Method not allowed", req.method + " is not supported; allowed: " + allowed);
}

void call(RouteMatch& m, alpaca_request& req, alpaca_response& res) {
  if (m.route->flags & ALPACA_ROUTE_OWN_BODY_LIMIT) req.body_limit = INT64_MAX;
  req.fill_caller_view();
  req.params = std::move(m.params);
  m.route->handler(m.route->user, &req, &res);
}

// Whether the route a request goes to reads bodies of any size (ALPACA_ROUTE_OWN_BODY_LIMIT).
bool owns_body_limit(App& app, const Target& target, const alpaca_request& req) {
  auto scope =
      target.scope == ALPACA_SCOPE_PROJECT ? ALPACA_SCOPE_PROJECT : ALPACA_SCOPE_MANAGEMENT;
  auto m = app.router().match(scope, req.method, req.path);
  return m.route && (m.route->flags & ALPACA_ROUTE_OWN_BODY_LIMIT);
}

// Per-project APIs: CORS, the project, then apikey / Bearer JWTs verified with its secret.
void serve_project(App& app, const std::string& ref, alpaca_request& req, alpaca_response& res) {
  Poco::Net::HTTPServerResponse& hres = *res.http;
  add_cors(app, hres);
  auto project = app.control().project(ref);
  if (!project) return send_error(res, 404, "Project not found", "No project '" + ref + "'");
  attach_project(req, project);
  if (req.method == "OPTIONS") {  // CORS preflight: no credentials are sent with it
    hres.set("Access-Control-Allow-Methods", kCorsMethods);
    hres.set("Access-Control-Allow-Headers", kCorsHeaders);
    hres.set("Access-Control-Max-Age", "86400");
    hres.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NO_CONTENT);
    res.committed = res.finished = true;
    hres.send();
    return;
  }
  auto m = app.router().match(ALPACA_SCOPE_PROJECT, req.method, req.path);
  if (!m.route) return no_route(req, res, m);
  // apikey must be a key of this project; a Bearer JWT (user session or key) decides the role.
  // Either alone is enough.
  std::string apikey = req.http->get("apikey", "");
  std::string token = bearer(*req.http);
  if (!apikey.empty()) {
    if (std::string why = accept_project_jwt(req, *project, apikey); !why.empty())
      return send_error(res, 401, "Invalid API key", why, jwt_error_code(why));
  }
  if (!token.empty() && token != apikey) {
    if (std::string why = accept_project_jwt(req, *project, token); !why.empty()) {
      if (!(m.route->flags & ALPACA_ROUTE_OWN_BEARER_ERRORS))
        return send_error(res, 401, "Invalid JWT", why, jwt_error_code(why));
      req.bearer_error = why;  // the plugin answers it in its own protocol
    }
  }
  if (req.caller.kind == ALPACA_CALLER_NONE && !(m.route->flags & ALPACA_ROUTE_ANONYMOUS))
    return send_error(res, 401, "No API key found in request",
                      "Send the project's key in the apikey header or as a Bearer token",
                      "PGRST302");
  call(m, req, res);
}

// Management routes: a personal access token, or the service_role key of the project a
// /projects/:id route names. Fills the caller; returns false after answering an error.
bool authenticate_management(App& app, const Route& route, const Params& params,
                             alpaca_request& req, alpaca_response& res) {
  std::string token = bearer(*req.http);
  if (token.empty()) {
    send_error(res, 401, "Missing bearer token",
               "Send Authorization: Bearer <personal access token or service_role key>");
    return false;
  }
  const auto& segs = route.segments;
  bool project_route = segs.size() >= 2 && segs[0].kind == Route::Segment::kLiteral &&
                       segs[0].text == "projects" && segs[1].kind == Route::Segment::kParam &&
                       segs[1].text == "id";
  std::shared_ptr<const ProjectRecord> project;
  if (project_route)
    for (const auto& [k, v] : params)
      if (k == "id") project = app.control().project(v);

  if (jwt::looks_like_jwt(token)) {
    if (!project_route) {
      send_error(res, 403, "Project keys cannot be used on this route",
                 "Use a personal access token");
      return false;
    }
    if (!project) {
      send_error(res, 404, "Project not found");
      return false;
    }
    if (std::string why = accept_project_jwt(req, *project, token); !why.empty()) {
      // A valid key of another project is a 403, not a bad token.
      std::string ref = jwt::unverified_claim(token, "ref");
      auto owner = ref.empty() || ref == project->ref ? nullptr : app.control().project(ref);
      alpaca_request scratch;
      if (owner && accept_project_jwt(scratch, *owner, token).empty())
        send_error(res, 403, "This key belongs to another project",
                   "Use the service_role key of project " + project->ref);
      else
        send_error(res, 401, "Invalid token", why);
      return false;
    }
    if (req.role != "service_role") {
      send_error(res, 403, "Insufficient role",
                 "Management routes need the service_role key or a personal access token");
      return false;
    }
  } else {
    auto owner = app.control().token_owner(token);
    if (!owner) {
      send_error(res, 401, "Invalid or revoked access token");
      return false;
    }
    req.caller.kind = ALPACA_CALLER_ACCOUNT;
    req.account_id = owner->account_id;
    if (project_route && (!project || project->owner_id != owner->account_id)) {
      send_error(res, 404, "Project not found");
      return false;
    }
  }
  if (project) attach_project(req, project);
  return true;
}

// The server root: management routes need credentials; public ones do not.
void serve_root(App& app, alpaca_request& req, alpaca_response& res) {
  auto m = app.router().match(ALPACA_SCOPE_MANAGEMENT, req.method, req.path);
  if (m.route) {
    if (authenticate_management(app, *m.route, m.params, req, res)) call(m, req, res);
    return;
  }
  auto pub = app.router().match(ALPACA_SCOPE_PUBLIC, req.method, req.path);
  if (pub.route) return call(pub, req, res);
  pub.allowed.insert(pub.allowed.end(), m.allowed.begin(), m.allowed.end());
  no_route(req, res, pub);
}

}  // namespace

// A request answered without reading (all of) its body — a 401, a 404, a parse error — leaves
// the rest in the connection, where it would be read as the next request. A small rest is read
// and dropped; a large or unknown one (or a refused oversized body) ends the connection.
void finish_body(alpaca_request& req, Poco::Net::HTTPServerResponse& hres) {
  auto& http = *req.http;
  bool chunked = http.getChunkedTransferEncoding();
  if (!chunked && (!http.hasContentLength() || http.getContentLength64() <= 0)) return;
  if (req.body_eof) return;
  int64_t left = chunked ? -1 : http.getContentLength64() - req.body_read;
  if (left == 0) return;
  bool small = !chunked && left <= 64 * 1024 && http.getContentLength64() <= req.body_limit &&
               !req.body_too_large;
  if (!small) hres.setKeepAlive(false);
  if (http.get("Expect", "") == "100-continue") {
    hres.setKeepAlive(false);  // the client sends nothing until told to
    return;
  }
  // Read and drop the rest: all of a small one; of a large one, what arrives within moments
  // (up to 32 MiB), so that a client still sending reads our answer rather than a reset
  // ("lingering close"). A client that stopped sending costs half a second.
  try {
    if (!small)
      if (auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&http))
        impl->socket().setReceiveTimeout(Poco::Timespan(0, 500000));
    char buf[16384];
    std::istream& in = http.stream();
    int64_t budget = small ? left : 32 * 1024 * 1024;
    while (budget > 0) {
      in.read(buf, static_cast<std::streamsize>(std::min<int64_t>(sizeof buf, budget)));
      if (in.gcount() <= 0) break;
      budget -= in.gcount();
      if (left > 0) left -= in.gcount();
    }
  } catch (const std::exception&) {
    hres.setKeepAlive(false);
  }
  if (left > 0) hres.setKeepAlive(false);
}

void dispatch(App& app, Poco::Net::HTTPServerRequest& http, Poco::Net::HTTPServerResponse& hres) {
  auto started = std::chrono::steady_clock::now();
  alpaca_request req;
  alpaca_response res;
  req.http = &http;
  res.http = &hres;
  if (auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&http))
    res.socket = &impl->socket();
  res.head_only = http.getMethod() == "HEAD";
  req.method = http.getMethod();
  const std::string& uri = http.getURI();
  size_t q = uri.find('?');
  std::string raw_path = uri.substr(0, q);
  if (q != std::string::npos) req.query_string = uri.substr(q + 1);
  req.body_limit = app.settings().max_body_bytes;
  req.trust_forwarded_for = app.settings().trust_forwarded_for;
  req.caller.kind = ALPACA_CALLER_NONE;
  req.fill_caller_view();

  auto run = [&] {
    if (raw_path == "/health" && req.method != "GET" && req.method != "HEAD") {
      hres.set("Allow", "GET, HEAD");
      return send_error(res, 405, "Method not allowed", "Use GET /health");
    }
    if (raw_path == "/health")
      return app.ready()      ? send_json(res, 200, "{\"status\":\"ok\"}")
             : app.stopping() ? send_json(res, 503, "{\"status\":\"stopping\"}")
                              : send_json(res, 503, "{\"status\":\"starting\"}");
    if (!app.ready()) {
      hres.set("Retry-After", "1");
      return app.stopping() ? send_error(res, 503, "Server is shutting down")
                            : send_error(res, 503, "Server is starting", "Retry in a moment");
    }
    if (raw_path.empty() || raw_path[0] != '/')
      return send_error(res, 400, "Malformed request path");
    // Plugins get path parameters as C strings: an encoded NUL would silently cut them short.
    if (raw_path.find("%00") != std::string::npos)
      return send_error(res, 400, "Malformed request path",
                        "The path contains an encoded NUL (%00)");
    Target target = resolve_target(app, http, raw_path);
    req.path = target.path;
    // Bodies larger than the limit are refused before any handler sees them, unless the route
    // enforces its own limit (uploads).
    if (http.hasContentLength() && http.getContentLength64() > req.body_limit &&
        !owns_body_limit(app, target, req))
      return send_error(res, 413, "Request body too large",
                        "The limit is " + std::to_string(req.body_limit) + " bytes");
    if (target.scope == ALPACA_SCOPE_PROJECT) return serve_project(app, target.ref, req, res);
    serve_root(app, req, res);
  };

  try {
    run();
    finish_body(req, hres);
    if (req.body_too_large && !res.committed)
      send_error(res, 413, "Request body too large",
                 "The limit is " + std::to_string(req.body_limit) + " bytes");
    if (!res.committed) send_error(res, 500, "Internal error", "The handler sent no response");
    if (!res.finished && res.stream) res.stream->flush();
  } catch (const std::exception& e) {
    spdlog::error("request {} {} failed: {}", req.method, raw_path, e.what());
    if (!res.committed) send_error(res, 500, "Internal error");
  }

  if (app.settings().log_requests) {
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    // Never the query string (signed URLs carry tokens there) nor any header.
    spdlog::info("http method={} path={} status={} ms={:.2f} project={} caller={}{}{}", req.method,
                 raw_path, static_cast<int>(hres.getStatus()), ms,
                 req.project ? req.project->ref : "-", caller_kind_name(req.caller.kind),
                 res.error_message.empty() ? "" : " error=",
                 res.error_message.empty() ? "" : "\"" + res.error_message + "\"");
  }
}

}  // namespace alpaca
