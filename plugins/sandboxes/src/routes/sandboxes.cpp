// POST/GET /sandboxes, GET/DELETE /sandboxes/:id.
#include "json_io.hpp"
#include "routes.hpp"

namespace sandboxes {

std::string caller_owner(const alpaca::Request& req) {
  const alpaca_caller& c = req.caller();
  if (c.kind == ALPACA_CALLER_ACCOUNT && c.account_id)
    return std::string("account:") + c.account_id;
  if (c.kind == ALPACA_CALLER_PROJECT_JWT && c.project_ref && c.role &&
      std::string(c.role) == "service_role")
    return std::string("project:") + c.project_ref;
  throw alpaca::HttpError(401, "A personal access token or a service_role key is needed");
}

namespace {

void create(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string owner = caller_owner(req);
  auto body = json_object_body(req);
  bool has_runtime = false;
  std::string runtime = optional_string(body, "runtime", &has_runtime);
  if (!has_runtime)
    throw alpaca::HttpError(400, "Missing 'runtime'", "One of: node, python, shell");
  if (runtime != "node" && runtime != "python" && runtime != "shell")
    throw alpaca::HttpError(400, "Unknown runtime '" + runtime + "'",
                            "One of: node, python, shell");
  std::string label = optional_string(body, "label", nullptr);
  if (label.size() > 200) throw alpaca::HttpError(400, "'label' is longer than 200 characters");
  bool valid = true;
  valid_utf8(label, &valid);
  if (!valid) throw alpaca::HttpError(400, "'label' is not valid UTF-8");
  Record r = svc.create(owner, runtime, label);
  res.json(201, svc.record_json(r));
}

void list(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string out = "[";
  for (const Record& r : svc.list(caller_owner(req))) {
    if (out.size() > 1) out += ',';
    out += svc.record_json(r);
  }
  out += ']';
  res.json(200, out);
}

void get(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  res.json(200, svc.record_json(svc.get(caller_owner(req), std::string(req.param("id")))));
}

void remove(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  res.json(200, svc.record_json(svc.remove(caller_owner(req), std::string(req.param("id")))));
}

}  // namespace

void add_sandbox_routes(alpaca::Host& host, Service& svc) {
  auto bind = [&svc](void (*fn)(Service&, alpaca::Request&, alpaca::Response&)) {
    return [&svc, fn](alpaca::Request& req, alpaca::Response& res) { fn(svc, req, res); };
  };
  host.route(ALPACA_SCOPE_MANAGEMENT, "POST", "/sandboxes", bind(create));
  host.route(ALPACA_SCOPE_MANAGEMENT, "GET", "/sandboxes", bind(list));
  host.route(ALPACA_SCOPE_MANAGEMENT, "GET", "/sandboxes/:id", bind(get));
  host.route(ALPACA_SCOPE_MANAGEMENT, "DELETE", "/sandboxes/:id", bind(remove));
}

}  // namespace sandboxes
