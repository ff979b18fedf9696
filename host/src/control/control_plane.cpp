#include "control/control_plane.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include "auth/crypto.hpp"
#include "auth/jwt.hpp"
#include "control/migrations.hpp"
#include "control/project_database.hpp"
#include "control/project_settings.hpp"
#include "core/app.hpp"
#include "db/pg.hpp"
#include "db/pool.hpp"

namespace alpaca {
namespace {

const char* kIso = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'";
const std::string kProjectColumns =
    std::string("id, name, owner_id::text, status, database_name, jwt_secret, anon_key, ") +
    "service_key, settings::text, (SELECT coalesce(jsonb_agg(k), '[]') FROM " +
    "jsonb_object_keys(secrets) k)::text, to_char(created_at AT TIME ZONE 'UTC', " + kIso +
    "), to_char(updated_at AT TIME ZONE 'UTC', " + kIso + ")";
const std::string kTokenColumns =
    std::string("id::text, name, token_prefix, to_char(created_at AT TIME ZONE 'UTC', ") + kIso +
    "), to_char(expires_at AT TIME ZONE 'UTC', " + kIso + ")";

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> row_of(const db::Result& r, int row) {
  std::vector<std::string> out;
  for (int c = 0; c < r.cols(); ++c) out.push_back(r.get(row, c));
  return out;
}

std::string stringify(const Poco::JSON::Object& o) {
  std::ostringstream s;
  o.stringify(s);
  return s.str();
}

Poco::JSON::Object token_json(const db::Result& r, int row) {
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("id", r.get(row, 0));
  o.set("name", r.get(row, 1));
  o.set("token_prefix", r.get(row, 2));
  o.set("created_at", r.get(row, 3));
  o.set("expires_at", r.is_null(row, 4) ? Poco::Dynamic::Var() : Poco::Dynamic::Var(r.get(row, 4)));
  return o;
}

bool is_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

constexpr int64_t kKeyLifetime = 10LL * 365 * 24 * 3600;  // API keys are long-lived

}  // namespace

ControlPlane::ControlPlane(App& app) : app_(app) {}
ControlPlane::~ControlPlane() {
  stop();
}

void ControlPlane::stop() {
  if (listener_) listener_->stop();
  listener_.reset();
}

void ControlPlane::announce(const std::string& what) {
  try {
    auto conn = app_.pools().get(app_.settings().control_db).acquire();
    conn->exec("SELECT pg_notify($1, $2)", {std::string(CacheListener::kChannel), what});
  } catch (const std::exception& e) {
    spdlog::error("cache invalidation '{}' not announced: {}", what, e.what());
  }
}

void ControlPlane::on_announcement(const std::string& what) {
  if (what.rfind("project:", 0) == 0) {
    forget_project(what.substr(8));
  } else if (what.rfind("token:", 0) == 0) {
    std::unique_lock lock(tokens_mutex_);
    tokens_.erase(what.substr(6));
  }
}

void ControlPlane::start() {
  {
    auto conn = app_.pools().get(app_.settings().control_db).acquire();
    int ran = apply_control_migrations(*conn);
    spdlog::info("control database ready (schema version {}, {} migration(s) applied)",
                 control_schema_version(), ran);
    ensure_api_roles(*conn);
    // Generated once; ON CONFLICT keeps the first host's value when several start together.
    conn->exec(
        "INSERT INTO server_secrets(name, value) VALUES ('login_roles_password', $1) "
        "ON CONFLICT (name) DO NOTHING",
        {crypto::random_token(40)});
    admin_password_ =
        conn->exec("SELECT value FROM server_secrets WHERE name = 'login_roles_password'")
            .get(0, 0);
    ensure_login_roles(*conn, admin_password_);
  }
  bootstrap_admin();
  listener_ = std::make_unique<CacheListener>(
      app_.conninfo(app_.settings().control_db),
      [this](const std::string& what) { on_announcement(what); },
      [this] {
        {
          std::unique_lock lock(projects_mutex_);
          projects_.clear();
        }
        std::unique_lock lock(tokens_mutex_);
        tokens_.clear();
      });
  listener_->start();
}

void ControlPlane::bootstrap_admin() {
  std::string admin;
  bool first = false;
  {
    auto conn = app_.pools().get(app_.settings().control_db).acquire();
    auto r = conn->exec("SELECT id::text FROM accounts WHERE is_admin ORDER BY created_at LIMIT 1");
    first = r.rows() == 0;
    admin = first ? conn->exec(
                            "INSERT INTO accounts(email, is_admin) VALUES ('admin@localhost', "
                            "true) ON CONFLICT (email) DO UPDATE SET is_admin = true RETURNING "
                            "id::text")
                        .get(0, 0)
                  : r.get(0, 0);
  }
  std::string given = app_.config().get("admin_token", "");
  if (!given.empty()) {
    if (given.size() < 16)
      throw std::runtime_error("ALPACA_ADMIN_TOKEN must be at least 16 characters long");
    bool known = false;
    {
      auto c = app_.pools().get(app_.settings().control_db).acquire();
      known =
          c->exec("SELECT 1 FROM access_tokens WHERE token_hash = $1", {crypto::sha256_hex(given)})
              .rows() > 0;
    }
    if (!known) {
      insert_token(admin, "admin (ALPACA_ADMIN_TOKEN)", given, 0);
      spdlog::info("admin account: personal access token from ALPACA_ADMIN_TOKEN installed");
    }
    return;
  }
  if (!first) return;
  std::string token = "alp_" + crypto::random_token(40);
  insert_token(admin, "admin (generated)", token, 0);
  std::string path = app_.settings().data_dir + "/admin-token";
  {
    std::ofstream out(path, std::ios::trunc);
    out << token << "\n";
  }
  ::chmod(path.c_str(), 0600);
  // Printed once, on stdout and not through the logger, so log files never hold it.
  std::cout << "\nAdmin personal access token (shown once, also saved to " << path << "):\n  "
            << token << "\n\n"
            << std::flush;
}

// ---- projects ---------------------------------------------------------------------------

std::shared_ptr<ProjectRecord> ControlPlane::record_from_row(const std::vector<std::string>& row) {
  auto p = std::make_shared<ProjectRecord>();
  p->ref = row[0];
  p->name = row[1];
  p->owner_id = row[2];
  p->status = row[3];
  p->database = row[4];
  p->jwt_secret = row[5];
  p->anon_key = row[6];
  p->service_key = row[7];
  const auto& s = app_.settings();
  p->server_url = !s.base_domain.empty() ? s.base_scheme + "://" + p->ref + "." + s.base_domain
                                         : s.public_url + "/p/" + p->ref;
  Poco::JSON::Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("id", p->ref);
  o.set("ref", p->ref);
  o.set("name", p->name);
  o.set("status", p->status);
  o.set("backend_type", "postgres");
  o.set("server_url", p->server_url);
  o.set("db_host", app_.db_host());
  o.set("db_name", p->database);
  o.set("created_at", row[10]);
  o.set("updated_at", row[11]);
  render_settings(o, row[8], row[9]);
  // Push webhooks are registered by the hosting module; until then none is.
  o.set("webhook_registered", false);
  o.set("webhook_url", Poco::Dynamic::Var());
  p->json = stringify(o);
  return p;
}

void ControlPlane::cache_project(const std::shared_ptr<const ProjectRecord>& p) {
  std::unique_lock lock(projects_mutex_);
  projects_[p->ref] = p;
}

void ControlPlane::forget_project(const std::string& ref) {
  std::unique_lock lock(projects_mutex_);
  projects_.erase(ref);
}

std::shared_ptr<const ProjectRecord> ControlPlane::load_project(const std::string& ref) {
  auto conn = app_.pools().get(app_.settings().control_db).acquire();
  auto r = conn->exec("SELECT " + kProjectColumns + " FROM projects WHERE id = $1", {ref});
  if (r.rows() == 0) return nullptr;
  auto p = record_from_row(row_of(r, 0));
  cache_project(p);
  return p;
}

std::shared_ptr<const ProjectRecord> ControlPlane::project(const std::string& ref) {
  {
    std::shared_lock lock(projects_mutex_);
    auto it = projects_.find(ref);
    if (it != projects_.end()) return it->second;
  }
  // Refs are [a-z0-9]{20}: anything else is not a project, no need to ask the database.
  if (ref.empty() || ref.size() > 64) return nullptr;
  for (char c : ref)
    if (!std::islower(static_cast<unsigned char>(c)) &&
        !std::isdigit(static_cast<unsigned char>(c)))
      return nullptr;
  return load_project(ref);
}

std::vector<std::shared_ptr<const ProjectRecord>> ControlPlane::list_projects(
    const std::string& owner) {
  auto conn = app_.pools().get(app_.settings().control_db).acquire();
  auto r = conn->exec(
      "SELECT " + kProjectColumns + " FROM projects WHERE owner_id = $1 ORDER BY created_at",
      {owner});
  std::vector<std::shared_ptr<const ProjectRecord>> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(record_from_row(row_of(r, i)));
  return out;
}

std::pair<std::string, std::string> ControlPlane::mint_keys(const std::string& ref,
                                                            const std::string& secret) const {
  int64_t iat = now_seconds();
  auto key = [&](const char* role) {
    return jwt::sign("{\"iss\":\"alpaca\",\"ref\":\"" + ref + "\",\"role\":\"" + role +
                         "\",\"iat\":" + std::to_string(iat) +
                         ",\"exp\":" + std::to_string(iat + kKeyLifetime) + "}",
                     secret);
  };
  return {key("anon"), key("service_role")};
}

std::shared_ptr<const ProjectRecord> ControlPlane::create_project(const std::string& owner,
                                                                  const std::string& name) {
  std::string ref = crypto::random_lower(20);
  std::string database = "proj_" + ref;
  std::string secret = crypto::base64url_encode(crypto::random_bytes(48));
  auto [anon, service] = mint_keys(ref, secret);
  auto started = std::chrono::steady_clock::now();
  {
    auto conn = app_.pools().get(app_.settings().control_db).acquire();
    conn->exec("CREATE DATABASE " + conn->escape_identifier(database));
  }
  try {
    {
      auto conn = app_.pools().get(database).acquire();
      provision_project_database(*conn);
    }
    auto conn = app_.pools().get(app_.settings().control_db).acquire();
    conn->exec(
        "INSERT INTO projects(id, name, owner_id, database_name, jwt_secret, anon_key, "
        "service_key) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        {ref, name, owner, database, secret, anon, service});
  } catch (...) {
    app_.forget_database(database);
    try {
      auto conn = app_.pools().get(app_.settings().control_db).acquire();
      conn->exec("DROP DATABASE IF EXISTS " + conn->escape_identifier(database) + " WITH (FORCE)");
    } catch (const std::exception& e) {
      spdlog::error("could not drop half-created database {}: {}", database, e.what());
    }
    throw;
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  started)
                .count();
  spdlog::info("project {} created (database {}, {} ms)", ref, database, ms);
  auto project = load_project(ref);
  for (const auto& hook : app_.project_hooks()) {
    auto t0 = std::chrono::steady_clock::now();
    hook.fn(hook.user, ref.c_str());  // a C function: it reports its own failures
    spdlog::debug(
        "project {}: {}'s project hook took {} ms", ref, hook.plugin,
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count());
  }
  return project;
}

std::shared_ptr<const ProjectRecord> ControlPlane::update_project(const std::string& ref,
                                                                  const Poco::JSON::Object& body) {
  SettingsPatch patch = parse_settings_patch(body);
  auto conn = app_.pools().get(app_.settings().control_db).acquire();
  auto r = conn->exec(
      "UPDATE projects SET name = coalesce($2, name), "
      "settings = jsonb_strip_nulls(settings || $3::jsonb), "
      "secrets = jsonb_strip_nulls(secrets || $4::jsonb), updated_at = now() WHERE id = $1 "
      "RETURNING " +
          kProjectColumns,
      {ref, patch.name, patch.settings_json, patch.secrets_json});
  if (r.rows() == 0) return nullptr;
  auto p = record_from_row(row_of(r, 0));
  cache_project(p);
  announce("project:" + ref);
  return p;
}

std::shared_ptr<const ProjectRecord> ControlPlane::delete_project(const std::string& ref) {
  auto p = project(ref);
  if (!p) return nullptr;
  // The row goes first: once it and the cache entry are gone the project answers 404 and
  // nothing reloads it, so its database can be dropped without anyone reaching it.
  auto conn = app_.pools().get(app_.settings().control_db).acquire();
  conn->exec("DELETE FROM projects WHERE id = $1", {ref});
  forget_project(ref);
  announce("project:" + ref);
  app_.forget_database(p->database);
  conn->exec("DROP DATABASE IF EXISTS " + conn->escape_identifier(p->database) + " WITH (FORCE)");
  spdlog::info("project {} deleted (database {} dropped)", ref, p->database);
  auto gone = std::make_shared<ProjectRecord>(*p);
  gone->status = "deleted";
  // status precedes the settings in the object, so the first match is the field itself.
  std::string from = "\"status\":\"" + p->status + "\"";
  if (size_t at = gone->json.find(from); at != std::string::npos)
    gone->json.replace(at, from.size(), "\"status\":\"deleted\"");
  return gone;
}

std::shared_ptr<const ProjectRecord> ControlPlane::rotate_keys(const std::string& ref) {
  std::string secret = crypto::base64url_encode(crypto::random_bytes(48));
  auto [anon, service] = mint_keys(ref, secret);
  auto conn = app_.pools().get(app_.settings().control_db).acquire();
  auto r = conn->exec(
      "UPDATE projects SET jwt_secret = $2, anon_key = $3, service_key = $4, updated_at = now() "
      "WHERE id = $1 RETURNING " +
          kProjectColumns,
      {ref, secret, anon, service});
  if (r.rows() == 0) return nullptr;
  auto p = record_from_row(row_of(r, 0));
  cache_project(p);  // the old secret is gone: tokens signed with it stop verifying at once
  announce("project:" + ref);
  spdlog::info("project {}: API keys rotated", ref);
  return p;
}

// ---- personal access tokens -----------------------------------------------------------------

std::optional<TokenOwner> ControlPlane::token_owner(const std::string& token) {
  std::string hash = crypto::sha256_hex(token);
  int64_t now = now_seconds();
  {
    std::shared_lock lock(tokens_mutex_);
    auto it = tokens_.find(hash);
    if (it != tokens_.end()) {
      if (it->second.expires_at != 0 && now >= it->second.expires_at) return std::nullopt;
      return it->second;
    }
  }
  auto conn = app_.pools().get(app_.settings().control_db).acquire();
  auto r = conn->exec(
      "SELECT account_id::text, id::text, coalesce(extract(epoch FROM expires_at)::bigint, 0) "
      "FROM access_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
      {hash});
  if (r.rows() == 0) return std::nullopt;
  TokenOwner owner{r.get(0, 0), r.get(0, 1), std::stoll(r.get(0, 2))};
  {
    std::unique_lock lock(tokens_mutex_);
    if (tokens_.size() > 100000) tokens_.clear();  // bound memory; entries reload on demand
    tokens_[hash] = owner;
  }
  if (owner.expires_at != 0 && now >= owner.expires_at) return std::nullopt;
  return owner;
}

std::string ControlPlane::insert_token(const std::string& account, const std::string& name,
                                       const std::string& token, int64_t expires_in_days) {
  auto conn = app_.pools().get(app_.settings().control_db).acquire();
  auto r = conn->exec(
      "INSERT INTO access_tokens(account_id, name, token_hash, token_prefix, expires_at) "
      "VALUES ($1, $2, $3, $4, CASE WHEN $5::int > 0 THEN now() + make_interval(days => $5::int) "
      "END) RETURNING " +
          kTokenColumns,
      {account, name, crypto::sha256_hex(token), token.substr(0, 8),
       std::to_string(expires_in_days)});
  auto o = token_json(r, 0);
  o.set("token", token);
  return stringify(o);
}

std::string ControlPlane::create_token(const std::string& account, const std::string& name,
                                       int64_t expires_in_days) {
  return insert_token(account, name, "alp_" + crypto::random_token(40), expires_in_days);
}

std::string ControlPlane::list_tokens(const std::string& account) {
  auto conn = app_.pools().get(app_.settings().control_db).acquire();
  auto r = conn->exec("SELECT " + kTokenColumns +
                          " FROM access_tokens WHERE account_id = $1 AND revoked_at IS NULL "
                          "ORDER BY created_at",
                      {account});
  Poco::JSON::Array arr;
  for (int i = 0; i < r.rows(); ++i) arr.add(token_json(r, i));
  std::ostringstream s;
  arr.stringify(s);
  return s.str();
}

std::optional<std::string> ControlPlane::revoke_token(const std::string& account,
                                                      const std::string& id) {
  if (!is_uuid(id)) return std::nullopt;
  auto conn = app_.pools().get(app_.settings().control_db).acquire();
  auto r = conn->exec(
      "UPDATE access_tokens SET revoked_at = now() WHERE id = $1 AND account_id = $2 AND "
      "revoked_at IS NULL RETURNING " +
          kTokenColumns + ", token_hash",
      {id, account});
  if (r.rows() == 0) return std::nullopt;
  {
    std::unique_lock lock(tokens_mutex_);
    tokens_.erase(r.get(0, 5));
  }
  announce("token:" + r.get(0, 5));
  auto o = token_json(r, 0);
  o.set("revoked", true);
  return stringify(o);
}

}  // namespace alpaca
