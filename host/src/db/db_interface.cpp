#include "db/db_interface.hpp"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <alpaca/plugin.hpp>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "control/control_plane.hpp"
#include "core/app.hpp"
#include "db/pipeline.hpp"
#include "db/pool.hpp"
#include "db/schema_watch.hpp"
#include "http/context.hpp"

// A Postgres error kept in the C view plugins read (alpaca_db_error points into the strings).
struct HeldError {
  alpaca_db_error error{sizeof(alpaca_db_error), "", "", nullptr, nullptr, 0};
  std::string message, sqlstate, detail, hint;

  void set(const alpaca::db::PgError& e) {
    message = e.what();
    sqlstate = e.sqlstate;
    detail = e.detail;
    hint = e.hint;
    error.message = message.c_str();
    error.sqlstate = sqlstate.c_str();
    error.detail = detail.empty() ? nullptr : detail.c_str();
    error.hint = hint.empty() ? nullptr : hint.c_str();
    error.position = e.position;
  }
};

struct alpaca_db_session {
  alpaca::db::Lease lease;
  bool management = false;  // arbitrary SQL may have changed session state
  HeldError held;
  void set_error(const alpaca::db::PgError& e) { held.set(e); }
};

struct alpaca_db_result {
  alpaca::db::Result result;
  bool failed = false;  // a failed request_statement: `held` says what Postgres said
  HeldError held;
  void set_error(const alpaca::db::PgError& e) {
    failed = true;
    held.set(e);
  }
};

namespace alpaca {
namespace {

App* g_app = nullptr;

void copy_err(char* err, size_t cap, const std::string& msg) {
  if (!err || cap == 0) return;
  std::strncpy(err, msg.c_str(), cap - 1);
  err[cap - 1] = '\0';
}

bool api_role(const std::string& role) {
  return role == "anon" || role == "authenticated" || role == "service_role";
}

// BEGIN; SELECT set_config(role, claims...) pipelined. Throws PgError; leaves the connection
// out of pipeline mode either way (the pool closes it if it is not idle in a transaction).
void begin_with_claims(PGconn* c, const char* role, const std::string& claims) {
  static const char* kSet =
      "SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true), "
      "set_config('request.jwt.claim.role', $1, true), "
      "set_config('request.jwt.claim.sub', coalesce($2::jsonb ->> 'sub', ''), true)";
  const char* values[] = {role, claims.c_str()};
  db::Pipeline p(c);
  p.query("BEGIN");
  p.query(kSet, 2, values);
  if (auto failure = p.run()) throw *failure;
}

alpaca_db_session* begin(const char* ref, const char* role, const char* claims, char* err,
                         size_t cap) {
  if (!ref) return copy_err(err, cap, "no project given"), nullptr;
  if (role && !api_role(role))
    return copy_err(err, cap, std::string("role '") + role + "' is not an API role"), nullptr;
  auto project = g_app->control().project(ref);
  if (!project) return copy_err(err, cap, std::string("unknown project ") + ref), nullptr;
  auto s = std::make_unique<alpaca_db_session>();
  try {
    if (!role) {
      // Management sessions log in as alpaca_admin: no SET ROLE a statement could undo.
      s->lease = g_app->admin_pools().get(project->database).acquire();
      s->management = true;
      s->lease->exec("BEGIN");
    } else {
      s->lease = g_app->api_pools().get(project->database).acquire();
      // Local to the transaction, as PostgREST does: RLS policies read these. BEGIN and the
      // settings go out in one pipeline: one round trip.
      std::string claims_json = claims && *claims ? claims : "{}";
      begin_with_claims(s->lease->raw(), role, claims_json);
    }
  } catch (const db::PgError& e) {
    copy_err(err, cap, e.what());
    return nullptr;
  }
  return s.release();
}

alpaca_db_session* begin_for_request(alpaca_request* req, char* err, size_t cap) {
  if (!req || !req->project) return copy_err(err, cap, "request has no project"), nullptr;
  const char* role =
      req->caller.kind == ALPACA_CALLER_PROJECT_JWT && req->caller.role ? req->caller.role : "anon";
  return begin(req->project->ref.c_str(), role, req->caller.claims_json, err, cap);
}

// COMMIT or ROLLBACK, then DISCARD ALL after its own sync point (so outside the transaction
// block), pipelined: one round trip. Returns the first command's tag; throws PgError.
std::string end_and_discard(PGconn* c, const char* end) {
  db::Pipeline p(c);
  size_t ending = p.query(end);
  p.sync();
  p.query("DISCARD ALL");
  auto failure = p.run();
  if (failure) throw *failure;
  return PQcmdStatus(p.take(ending).raw());
}

alpaca_status end(alpaca_db_session* s, int commit) {
  if (!s) return ALPACA_ERR_INVALID;
  std::unique_ptr<alpaca_db_session> owned(s);
  try {
    const char* command = commit ? "COMMIT" : "ROLLBACK";
    std::string tag;
    if (s->management) {
      // A management session ran caller SQL: a plain SET, PREPARE, LISTEN or temp table must
      // not reach the next borrower of this connection.
      tag = end_and_discard(s->lease->raw(), command);
    } else {
      tag = PQcmdStatus(s->lease->exec(command).raw());
    }
    // COMMIT of a transaction that failed earlier rolls back without an error: report it.
    if (commit && tag == "ROLLBACK") return ALPACA_ERR_IO;
    return ALPACA_OK;
  } catch (const db::PgError& e) {
    s->lease.discard();
    spdlog::warn("alpaca.db: session end failed: {}", e.what());
    return ALPACA_ERR_IO;
  }
}

alpaca_status query(alpaca_db_session* s, const char* sql, int n, const char* const* params,
                    alpaca_db_result** out) {
  if (!s || !sql || n < 0 || (n > 0 && !params)) return ALPACA_ERR_INVALID;
  std::vector<std::optional<std::string>> p;
  p.reserve(n);
  for (int i = 0; i < n; ++i)
    p.push_back(params[i] ? std::optional<std::string>(params[i]) : std::nullopt);
  try {
    auto r = s->lease->exec(sql, p);
    if (out) {
      *out = new alpaca_db_result;
      (*out)->result = std::move(r);
    }
    return ALPACA_OK;
  } catch (const db::PgError& e) {
    s->set_error(e);
    return ALPACA_ERR_IO;
  }
}

alpaca_status query_text(alpaca_db_session* s, const char* sql, int n, const char* const* params,
                         char** out) {
  alpaca_db_result* r = nullptr;
  alpaca_status st = query(s, sql, n, params, &r);
  if (st != ALPACA_OK) return st;
  *out = nullptr;
  if (r->result.rows() > 0 && r->result.cols() > 0 && !r->result.is_null(0, 0))
    *out = ::strdup(r->result.value(0, 0));
  delete r;
  return ALPACA_OK;
}

void free_text(char* t) {
  std::free(t);
}
const alpaca_db_error* last_error(alpaca_db_session* s) {
  return s ? &s->held.error : nullptr;
}
void* raw_connection(alpaca_db_session* s) {
  return s ? s->lease->raw() : nullptr;
}
int rows(const alpaca_db_result* r) {
  return r ? r->result.rows() : 0;
}
int columns(const alpaca_db_result* r) {
  return r ? r->result.cols() : 0;
}
const char* column_name(const alpaca_db_result* r, int c) {
  return r && c >= 0 && c < r->result.cols() ? r->result.column_name(c) : nullptr;
}
uint32_t column_type(const alpaca_db_result* r, int c) {
  return r && c >= 0 && c < r->result.cols() ? r->result.column_type(c) : 0;
}
const char* value(const alpaca_db_result* r, int row, int c) {
  if (!r || row < 0 || c < 0 || row >= r->result.rows() || c >= r->result.cols()) return nullptr;
  return r->result.value(row, c);
}
int64_t affected(const alpaca_db_result* r) {
  return r ? r->result.affected() : 0;
}
void result_free(alpaca_db_result* r) {
  delete r;
}

std::optional<std::string> database_of(const char* ref) {
  if (!ref || !g_app) return std::nullopt;
  auto project = g_app->control().project(ref);
  if (!project) return std::nullopt;
  return project->database;
}

uint64_t schema_version(const char* ref) {
  auto db = database_of(ref);
  return db ? g_app->schema_watch().version(*db) : 0;
}

void schema_changed(const char* ref) {
  if (auto db = database_of(ref)) g_app->schema_watch().changed(*db);
}

// The request's headers as a JSON object with lower-cased names (request.headers).
std::string headers_json(alpaca_request* req) {
  std::string out = "{";
  if (req->http) {
    for (const auto& [name, value] : *req->http) {
      std::string key = name;
      for (auto& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (out.size() > 1) out += ',';
      out += '"';
      out += json_escape(key);
      out += "\":\"";
      out += json_escape(value);
      out += '"';
    }
  }
  out += '}';
  return out;
}

// Settings, [Prepare,] statement, Sync: one round trip, one implicit transaction.
alpaca_status request_statement(alpaca_request* req, const char* path, const char* sql, int n,
                                const char* const* params, alpaca_db_result** out) {
  if (!out) return ALPACA_ERR_INVALID;
  *out = nullptr;
  if (!req || !req->project || !sql || n < 0 || (n > 0 && !params)) return ALPACA_ERR_INVALID;
  // Settings local to the request's implicit transaction; set before its statement, they hold
  // for it (statement_timeout too: each Execute starts a fresh timer).
  static const std::string kPrefix =
      "SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true), "
      "set_config('request.jwt.claim.role', $1, true), "
      "set_config('request.jwt.claim.sub', coalesce($2::jsonb ->> 'sub', ''), true), "
      "set_config('request.method', $3, true), set_config('request.path', $4, true), "
      "set_config('request.headers', $5, true), "
      // GET and HEAD run read-only, as PostgREST: a function that writes fails (25006)
      "CASE WHEN $3 IN ('GET', 'HEAD') THEN set_config('transaction_read_only', 'on', true) END, ";
  // The role's own settings (ALTER ROLE anon [IN DATABASE d] SET statement_timeout = '3s',
  // work_mem, app.x, ...): Postgres applies them at login but not on SET ROLE; PostgREST applies
  // them per request, and so do we. Only what any user may set counts (pg_settings context
  // 'user', or a custom dotted name), never the role, the transaction's mode or request.*.
  // This database's setting wins over the all-databases one.
  static const std::string kRoleSettings =
      "SELECT DISTINCT ON (r.rolname, split_part(c, '=', 1)) r.rolname, "
      "split_part(c, '=', 1) AS name, substr(c, strpos(c, '=') + 1) AS value "
      "FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
      "CROSS JOIN unnest(s.setconfig) c "
      "WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = "
      "current_database())) AND (split_part(c, '=', 1) IN (SELECT name FROM pg_settings WHERE "
      "context = 'user' AND name NOT IN ('role', 'transaction_read_only', "
      "'transaction_isolation', 'transaction_deferrable', 'default_transaction_read_only')) OR "
      "(split_part(c, '=', 1) LIKE '%.%' AND split_part(c, '=', 1) NOT LIKE 'request.%')) "
      "ORDER BY r.rolname, split_part(c, '=', 1), s.setdatabase DESC";
  // Read once per connection and schema version (a NOTIFY pgrst, 'reload schema' rereads them,
  // as with PostgREST), they travel as $6, $7, ... name/value pairs (a statement per count of
  // settings, made when they are read: cheaper in Postgres than unnesting arrays); unwatched
  // schemas (version 0) look them up in the statement itself.
  static const std::string kSetLookup = kPrefix +
                                        "(SELECT count(set_config(name, value, true)) FROM (" +
                                        kRoleSettings + ") x WHERE rolname = $1)";
  const char* role =
      req->caller.kind == ALPACA_CALLER_PROJECT_JWT && req->caller.role ? req->caller.role : "anon";
  std::string claims =
      req->caller.claims_json && *req->caller.claims_json ? req->caller.claims_json : "{}";
  std::string headers = headers_json(req);
  constexpr int kSettingParams = 5;  // $1..$5 of kPrefix; role settings follow
  std::vector<const char*> settings = {role, claims.c_str(), req->method.c_str(),
                                       path ? path : req->path.c_str(), headers.c_str()};
  auto result = std::make_unique<alpaca_db_result>();
  db::Lease lease;
  try {
    lease = g_app->api_pools().get(req->project->database).acquire();
  } catch (const db::PgError& e) {
    spdlog::warn("alpaca.db: no connection for {}: {}", req->project->ref, e.what());
    return ALPACA_ERR_IO;
  }
  PGconn* c = lease->raw();
  std::string text(sql);
  // Prepared statements keep the parameter types and plans of the schema they were made under:
  // when the schema version moved, they go (DEALLOCATE ALL, in the same pipeline). Unwatched
  // schemas (version 0) get no prepared statements at all.
  uint64_t version = g_app->schema_watch().version(req->project->database);
  bool deallocate = false;
  if (lease->prepared_version() != version) {
    deallocate = lease->has_prepared();
    lease->forget_prepared();
    lease->set_role_settings(std::nullopt);
    lease->set_prepared_version(version);
  }
  static const std::string kSetNone = kPrefix + "NULL";
  const auto& known = lease->role_settings();
  bool lookup = !version || !known;
  const std::string* set_text = lookup ? &kSetLookup : &kSetNone;
  if (!lookup) {
    if (auto it = known->find(role); it != known->end()) {
      set_text = &it->second.statement;
      for (const auto& v : it->second.params) settings.push_back(v.c_str());
    }
  }
  db::Pipeline p(c);
  if (deallocate) p.query("DEALLOCATE ALL");
  // The settings and the statement are each prepared once per connection (when the schema is
  // watched): Parse and plan once, then Bind/Execute only.
  std::vector<std::pair<size_t, std::pair<std::string, std::string>>> preparing;  // text, name
  auto send = [&](const std::string& sql_text, int count, const char* const* values) {
    const std::string* name = version ? lease->prepared(sql_text) : nullptr;
    if (name) return p.execute(name->c_str(), count, values);
    if (!version) return p.query(sql_text.c_str(), count, values);
    std::string fresh = lease->next_statement_name();
    preparing.push_back({p.prepare(fresh.c_str(), sql_text.c_str(), count), {sql_text, fresh}});
    return p.execute(fresh.c_str(), count, values);
  };
  size_t reading = version && lookup ? p.query(kRoleSettings.c_str()) : 0;
  send(*set_text, static_cast<int>(settings.size()), settings.data());
  size_t statement = send(text, n, params);
  std::optional<db::PgError> failure = p.run();
  if (p.ok(statement)) result->result = p.take(statement);
  if (version && lookup && p.ok(reading)) {
    db::Connection::RoleSettings read;
    db::Result rows = p.take(reading);
    for (int r = 0; r < rows.rows(); ++r) {
      // set_config($6, $7, true), set_config($8, $9, true), ... after the common settings
      auto& of = read[rows.get(r, 0)];
      int at = kSettingParams + static_cast<int>(of.params.size());
      of.statement += of.statement.empty() ? kPrefix : ", ";
      of.statement +=
          "set_config($" + std::to_string(at + 1) + ", $" + std::to_string(at + 2) + ", true)";
      of.params.push_back(rows.get(r, 1));
      of.params.push_back(rows.get(r, 2));
    }
    lease->set_role_settings(std::move(read));
  }
  for (auto& [command, prepared] : preparing)
    if (p.ok(command)) lease->remember_prepared(prepared.first, std::move(prepared.second));
  if (failure) {
    // Someone ran DEALLOCATE: prepare afresh next time.
    if (failure->sqlstate == "26000") lease->forget_prepared();
    if (!lease->healthy()) lease.discard();
    result->set_error(*failure);
    *out = result.release();
    return ALPACA_ERR_IO;
  }
  *out = result.release();
  return ALPACA_OK;
}

const alpaca_db_error* result_error(const alpaca_db_result* r) {
  return r && r->failed ? &r->held.error : nullptr;
}

const alpaca_db_api kApi = {
    sizeof(alpaca_db_api),
    begin,
    begin_for_request,
    end,
    query,
    query_text,
    free_text,
    last_error,
    raw_connection,
    rows,
    columns,
    column_name,
    column_type,
    value,
    affected,
    result_free,
    schema_version,
    schema_changed,
    request_statement,
    result_error,
};

}  // namespace

const alpaca_db_api* db_interface(App& app) {
  g_app = &app;
  return &kApi;
}

}  // namespace alpaca
