#pragma once
// Registering GoTrue routes: every handler's AuthError becomes GoTrue's error body.
#include <alpaca/plugin.hpp>
#include <functional>

#include "../db.hpp"
#include "../errors.hpp"
#include "../json.hpp"
#include "../service.hpp"

namespace auth {

// Every handler gets the service, the request, the response and who is calling.
using AuthHandler = void (*)(Service&, alpaca::Request&, alpaca::Response&, const Caller&);

inline void gotrue_route(alpaca::Host& host, Service& svc, const char* method, const char* path,
                         AuthHandler fn, uint32_t flags = 0) {
  // An invalid Bearer token is GoTrue's 403 bad_jwt where a user is needed, and ignored
  // elsewhere (GoTrue reads the token only on the routes that need it).
  flags |= ALPACA_ROUTE_OWN_BEARER_ERRORS;
  std::string pattern = std::string("/auth/v1") + path;
  host.route(
      ALPACA_SCOPE_PROJECT, method, pattern.c_str(),
      [&svc, fn](alpaca::Request& req, alpaca::Response& res) {
        try {
          Caller c = svc.caller(req);
          fn(svc, req, res, c);
        } catch (const AuthError& e) {
          if (!res.done()) send_error(req, res, e);
        } catch (const DbError& e) {
          svc.host().error(std::string("auth: database error: ") + e.what());
          if (!res.done())
            send_error(req, res, AuthError(500, "unexpected_failure", "Database error"));
        }
      },
      flags);
}

// redirect_to: the query (as supabase-js sends it), the body, or options.email_redirect_to.
inline std::string redirect_param(alpaca::Request& req, const Poco::JSON::Object& body) {
  if (const char* q = req.query("redirect_to")) return q;
  std::string r = str_field(body, "redirect_to");
  if (r.empty() && body.has("options") &&
      body.get("options").type() == typeid(Poco::JSON::Object::Ptr))
    r = str_field(*body.getObject("options"), "email_redirect_to");
  return r;
}

inline void send_json(alpaca::Response& res, int status, const std::string& body) {
  res.json(status, body);
}

// A management-API route (/projects/:id/auth/...): errors as {"error","detail"}.
inline void management_route(alpaca::Host& host, Service& svc, const char* method, const char* path,
                             AuthHandler fn) {
  std::string pattern = std::string("/projects/:id/auth") + path;
  host.route(ALPACA_SCOPE_MANAGEMENT, method, pattern.c_str(),
             [&svc, fn](alpaca::Request& req, alpaca::Response& res) {
               try {
                 Caller c;
                 const alpaca_project* p = req.project();
                 if (!p) throw AuthError(404, "not_found", "No project");
                 c.ref = p->ref;
                 c.server_url = p->server_url;
                 c.ip = std::string(req.client_address());
                 fn(svc, req, res, c);
               } catch (const AuthError& e) {
                 if (!res.done()) res.error(e.status, e.what(), e.code);
               } catch (const DbError& e) {
                 svc.host().error(std::string("auth: database error: ") + e.what());
                 if (!res.done()) res.error(500, "Database error", e.what());
               }
             });
}

}  // namespace auth
