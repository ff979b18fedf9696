#include "control/routes.hpp"

#include <Poco/JSON/Parser.h>

#include <alpaca/plugin.hpp>

#include "control/control_plane.hpp"

namespace alpaca {
namespace {

Poco::JSON::Object::Ptr json_body(Request& req) {
  std::string body = req.body();
  if (body.empty()) throw HttpError(400, "Request body is required", "Send a JSON object");
  Poco::JSON::Parser parser;
  Poco::Dynamic::Var v;
  try {
    v = parser.parse(body);
  } catch (const std::exception& e) {
    throw HttpError(400, "Malformed JSON body", e.what());
  }
  if (v.type() != typeid(Poco::JSON::Object::Ptr))
    throw HttpError(400, "Request body must be a JSON object");
  return v.extract<Poco::JSON::Object::Ptr>();
}

// Management routes that only a personal access token may call.
std::string require_account(const Request& req) {
  if (req.caller().kind != ALPACA_CALLER_ACCOUNT)
    throw HttpError(403, "This route requires a personal access token",
                    "Project keys can only manage their own project");
  return req.caller().account_id;
}

const alpaca_project& require_project(const Request& req) {
  const alpaca_project* p = req.project();
  if (!p) throw HttpError(404, "Project not found");
  return *p;
}

std::string keys_json(const ProjectRecord& p) {
  return "[{\"name\":\"anon\",\"api_key\":\"" + p.anon_key +
         "\"},{\"name\":\"service_role\",\"api_key\":\"" + p.service_key + "\"}]";
}

// Runs fn, turning control-plane ApiErrors into HTTP errors.
template <typename F>
Handler guarded(F fn) {
  return [fn](Request& req, Response& res) {
    try {
      fn(req, res);
    } catch (const ApiError& e) {
      throw HttpError(e.status, e.what(), e.detail);
    }
  };
}

}  // namespace

void register_control_routes(Host& host, ControlPlane& cp) {
  const auto M = ALPACA_SCOPE_MANAGEMENT;

  host.route(M, "GET", "/projects", guarded([&cp](Request& req, Response& res) {
               std::string out = "[";
               for (const auto& p : cp.list_projects(require_account(req))) {
                 if (out.size() > 1) out += ',';
                 out += p->json;
               }
               res.json(200, out + "]");
             }));

  host.route(M, "POST", "/projects", guarded([&cp](Request& req, Response& res) {
               std::string owner = require_account(req);
               auto body = json_body(req);
               for (const auto& [key, value] : *body)
                 if (key != "name")
                   throw HttpError(400, "Unknown field '" + key + "'",
                                   "Create a project with { \"name\" }; "
                                   "set other fields with PATCH");
               if (!body->has("name")) throw HttpError(400, "Field 'name' is required");
               auto name = body->get("name");
               if (!name.isString() || name.extract<std::string>().empty() ||
                   name.extract<std::string>().size() > 100)
                 throw HttpError(400,
                                 "Field 'name' must be a non-empty string of at most 100 "
                                 "characters");
               res.json(201, cp.create_project(owner, name.extract<std::string>())->json);
             }));

  host.route(M, "GET", "/projects/:id", guarded([&cp](Request& req, Response& res) {
               auto p = cp.project(require_project(req).ref);
               if (!p) throw HttpError(404, "Project not found");
               res.json(200, p->json);
             }));

  host.route(M, "PATCH", "/projects/:id", guarded([&cp](Request& req, Response& res) {
               const auto& proj = require_project(req);
               auto body = json_body(req);
               auto p = cp.update_project(proj.ref, *body);
               if (!p) throw HttpError(404, "Project not found");
               res.json(200, p->json);
             }));

  host.route(M, "DELETE", "/projects/:id", guarded([&cp](Request& req, Response& res) {
               auto p = cp.delete_project(require_project(req).ref);
               if (!p) throw HttpError(404, "Project not found");
               res.json(200, p->json);
             }));

  host.route(M, "GET", "/projects/:id/api-keys", guarded([&cp](Request& req, Response& res) {
               auto p = cp.project(require_project(req).ref);
               if (!p) throw HttpError(404, "Project not found");
               res.json(200, keys_json(*p));
             }));

  host.route(M, "POST", "/projects/:id/api-keys/rotate",
             guarded([&cp](Request& req, Response& res) {
               auto p = cp.rotate_keys(require_project(req).ref);
               if (!p) throw HttpError(404, "Project not found");
               res.json(200, keys_json(*p));
             }));

  host.route(M, "POST", "/account/tokens", guarded([&cp](Request& req, Response& res) {
               std::string account = require_account(req);
               auto body = json_body(req);
               std::string name;
               int64_t days = 0;
               for (const auto& [key, value] : *body) {
                 if (key == "name") {
                   if (!value.isString() || value.extract<std::string>().empty() ||
                       value.extract<std::string>().size() > 100)
                     throw HttpError(400,
                                     "Field 'name' must be a non-empty string of at most "
                                     "100 characters");
                   name = value.extract<std::string>();
                 } else if (key == "expires_in_days") {
                   if (!value.isInteger() || value.convert<int64_t>() < 1 ||
                       value.convert<int64_t>() > 3650)
                     throw HttpError(400,
                                     "Field 'expires_in_days' must be an integer from 1 "
                                     "to 3650");
                   days = value.convert<int64_t>();
                 } else {
                   throw HttpError(400, "Unknown field '" + key + "'",
                                   "Fields: name, expires_in_days");
                 }
               }
               if (name.empty()) throw HttpError(400, "Field 'name' is required");
               res.json(201, cp.create_token(account, name, days));
             }));

  host.route(M, "GET", "/account/tokens", guarded([&cp](Request& req, Response& res) {
               res.json(200, cp.list_tokens(require_account(req)));
             }));

  host.route(M, "DELETE", "/account/tokens/:id", guarded([&cp](Request& req, Response& res) {
               auto out = cp.revoke_token(require_account(req), std::string(req.param("id")));
               if (!out) throw HttpError(404, "Token not found");
               res.json(200, *out);
             }));
}

}  // namespace alpaca
