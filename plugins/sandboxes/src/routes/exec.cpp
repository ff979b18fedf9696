// POST /sandboxes/:id/exec — {code, language?} or {command}, with timeout_ms, env, cwd, stdin.
#include "json_io.hpp"
#include "routes.hpp"

namespace sandboxes {

namespace {

bool valid_env_name(const std::string& k) {
  if (k.empty() || (k[0] >= '0' && k[0] <= '9')) return false;
  for (char c : k)
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
      return false;
  return true;
}

ExecSpec parse_exec(const Service& svc, const std::string& runtime, alpaca::Request& req) {
  auto body = json_object_body(req);
  bool has_code = false, has_command = false, has_language = false;
  std::string code = optional_string(body, "code", &has_code);
  std::string command = optional_string(body, "command", &has_command);
  std::string language = optional_string(body, "language", &has_language);
  if (has_code == has_command)
    throw alpaca::HttpError(400, "Give either 'code' or 'command'",
                            "'code' runs in the sandbox's language, 'command' in a shell");
  ExecSpec s;
  if (has_command) {
    if (has_language) throw alpaca::HttpError(400, "'language' goes with 'code', not 'command'");
    s.argv = {"sh", "-c", command};
  } else {
    if (!has_language) language = runtime;
    if (language == "python")
      s.argv = {"python3", "-c", code};
    else if (language == "node" || language == "javascript")
      s.argv = {"node", "-e", code};
    else if (language == "shell" || language == "sh" || language == "bash")
      s.argv = {"sh", "-c", code};
    else
      throw alpaca::HttpError(400, "Unknown language '" + language + "'",
                              "One of: python, node, shell");
  }
  for (const auto& a : s.argv) {
    if (a.find('\0') != std::string::npos)
      throw alpaca::HttpError(400, "Code and commands cannot contain NUL bytes");
    // The kernel takes at most 128 KiB per argument.
    if (a.size() > 100000)
      throw alpaca::HttpError(413, "Code or command too large",
                              "At most 100000 bytes; write it to a file (PUT /sandboxes/:id/files/"
                              "...) and run the file");
  }
  s.timeout_ms = svc.settings().exec_timeout_ms;
  if (body->has("timeout_ms") && !body->isNull("timeout_ms")) {
    Poco::Dynamic::Var v = body->get("timeout_ms");
    double t = 0;
    if (!v.isNumeric() || (t = v.convert<double>()) < 1 ||
        t != static_cast<double>(static_cast<int64_t>(t)) || t > svc.settings().exec_timeout_max_ms)
      throw alpaca::HttpError(400, "'timeout_ms' must be a whole number of milliseconds",
                              "From 1 to " + std::to_string(svc.settings().exec_timeout_max_ms));
    s.timeout_ms = static_cast<uint32_t>(t);
  }
  if (body->has("env") && !body->isNull("env")) {
    auto env = body->getObject("env");
    if (!env) throw alpaca::HttpError(400, "'env' must be an object of strings");
    for (const auto& [k, v] : *env) {
      if (!valid_env_name(k))
        throw alpaca::HttpError(400, "Invalid environment variable name '" + valid_utf8(k) + "'",
                                "Letters, digits and _, not starting with a digit");
      if (!v.isString()) throw alpaca::HttpError(400, "env." + k + " must be a string");
      std::string val = v.convert<std::string>();
      if (val.find('\0') != std::string::npos)
        throw alpaca::HttpError(400, "env." + k + " contains a NUL byte");
      s.env.emplace_back(k, val);
    }
  }
  bool has_cwd = false;
  std::string cwd = optional_string(body, "cwd", &has_cwd);
  if (has_cwd) {
    if (cwd.empty() || cwd[0] != '/' || cwd.find('\0') != std::string::npos)
      throw alpaca::HttpError(400, "'cwd' must be an absolute path in the sandbox");
    s.cwd = cwd;
  }
  s.stdin_data = optional_string(body, "stdin", nullptr);
  s.output_limit = svc.settings().output_limit;
  return s;
}

void exec(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string owner = caller_owner(req);
  std::string id(req.param("id"));
  Record r = svc.get(owner, id);
  ExecSpec spec = parse_exec(svc, r.runtime, req);
  ExecResult x;
  try {
    x = svc.exec(owner, id, spec);
  } catch (const BoxError& e) {
    throw alpaca::HttpError(e.status(), e.what(), e.detail());
  }
  std::string out = "{\"stdout\":\"" + alpaca::json_escape(valid_utf8(x.stdout_data));
  out += "\",\"stderr\":\"" + alpaca::json_escape(valid_utf8(x.stderr_data));
  out += "\",\"exit_code\":" + std::to_string(x.exit_code);
  out += ",\"duration_ms\":" + std::to_string(x.duration_ms);
  out += std::string(",\"truncated\":") + (x.truncated ? "true" : "false");
  out += std::string(",\"timed_out\":") + (x.timed_out ? "true" : "false");
  out += std::string(",\"out_of_memory\":") + (x.out_of_memory ? "true" : "false") + "}";
  res.json(200, out);
}

}  // namespace

void add_exec_routes(alpaca::Host& host, Service& svc) {
  host.route(ALPACA_SCOPE_MANAGEMENT, "POST", "/sandboxes/:id/exec",
             [&svc](alpaca::Request& req, alpaca::Response& res) { exec(svc, req, res); });
}

}  // namespace sandboxes
