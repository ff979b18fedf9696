#include "session.hpp"

#include <memory>

#include "json_util.hpp"

namespace database {

namespace {
std::string field(const PGresult* r, int code) {
  const char* v = r ? PQresultErrorField(r, code) : nullptr;
  return v ? v : "";
}
using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;
}  // namespace

SqlError SqlError::from(const PGresult* r, PGconn* conn) {
  std::string message = field(r, PG_DIAG_MESSAGE_PRIMARY);
  if (message.empty()) {
    message = PQerrorMessage(conn);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
  }
  std::string detail = field(r, PG_DIAG_MESSAGE_DETAIL);
  if (detail.empty()) detail = field(r, PG_DIAG_MESSAGE_HINT);
  std::string pos = field(r, PG_DIAG_STATEMENT_POSITION);
  return SqlError(message, detail, field(r, PG_DIAG_SQLSTATE), pos.empty() ? 0 : std::stoi(pos));
}

void send_sql_error(alpaca::Response& res, const SqlError& e, const std::string& timeout,
                    bool conflicts) {
  int status = 400;
  std::string message = e.what();
  if (e.code == "57014" && message.find("statement timeout") != std::string::npos) {
    status = 408;
    message = "Query exceeded the statement timeout of " + timeout;
  } else if (conflicts && (e.code == "42P07" || e.code == "42710" || e.code == "42701" ||
                           e.code == "2BP01" || e.code == "23505")) {
    status = 409;  // already exists (42710: a racing CREATE took the row type) / depended on /
                   // duplicate key
  }
  std::string out = "{\"error\":";
  append_string(out, message);
  out += ",\"detail\":";
  if (e.detail.empty())
    out += "null";
  else
    append_string(out, e.detail);
  out += ",\"code\":";
  append_string(out, e.code);
  if (e.position > 0) out += ",\"position\":" + std::to_string(e.position);
  res.json(status, out + "}");
}

void announce_schema_change(const alpaca_db_api* db, const char* project_ref) {
  if (ALPACA_DB_HAS(db, schema_changed)) db->schema_changed(project_ref);
}

uint64_t schema_version(const alpaca_db_api* db, const char* project_ref) {
  return ALPACA_DB_HAS(db, schema_version) ? db->schema_version(project_ref) : 0;
}

Session::Session(const alpaca_db_api* db, const char* project_ref) : db_(db) {
  char err[512];
  s_ = db_->session_begin(project_ref, nullptr, nullptr, err, sizeof err);
  if (!s_) throw alpaca::HttpError(503, "Database unavailable", err);
  conn_ = static_cast<PGconn*>(db_->raw_connection(s_));
}

Session::~Session() {
  if (s_) db_->session_end(s_, 0);
}

bool Session::commit() {
  alpaca_status st = db_->session_end(s_, 1);
  s_ = nullptr;
  return st == ALPACA_OK;
}

void Session::exec(const std::string& sql, const std::vector<std::optional<std::string>>& params) {
  text(sql, params);
}

namespace {
// set_config('statement_timeout') and the statement in one pipeline; the statement's result.
PGresult* exec_after_timeout(PGconn* c, const std::string& timeout, const std::string& sql,
                             const std::vector<const char*>& values) {
  const char* t[] = {timeout.c_str()};
  if (!PQenterPipelineMode(c)) return nullptr;
  bool sent = PQsendQueryParams(c, "SELECT set_config('statement_timeout', $1, true)", 1, nullptr,
                                t, nullptr, nullptr, 0) &&
              PQsendQueryParams(c, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                values.data(), nullptr, nullptr, 0) &&
              PQpipelineSync(c);
  PGresult* first_error = nullptr;
  PGresult* out = nullptr;
  for (int command = 0; sent && command < 2; ++command) {
    while (PGresult* r = PQgetResult(c)) {
      ExecStatusType st = PQresultStatus(r);
      if (command == 0 && st == PGRES_FATAL_ERROR && !first_error) {
        first_error = r;
      } else if (command == 1 && !out) {
        out = r;
      } else {
        PQclear(r);
      }
    }
  }
  if (sent) PQclear(PQgetResult(c));  // the sync
  PQexitPipelineMode(c);
  if (first_error) {
    PQclear(out);
    return first_error;
  }
  return out;
}
}  // namespace

std::optional<std::string> Session::text(const std::string& sql,
                                         const std::vector<std::optional<std::string>>& params) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  ResultPtr r(nullptr, &PQclear);
  if (pending_timeout_) {
    r.reset(exec_after_timeout(conn_, *pending_timeout_, sql, values));
    pending_timeout_.reset();
  } else {
    r.reset(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                         values.data(), nullptr, nullptr, 0));
  }
  ExecStatusType st = PQresultStatus(r.get());
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) throw SqlError::from(r.get(), conn_);
  if (st != PGRES_TUPLES_OK || PQntuples(r.get()) == 0 || PQgetisnull(r.get(), 0, 0))
    return std::nullopt;
  return std::string(PQgetvalue(r.get(), 0, 0));
}

std::string Session::identifier(const std::string& name) {
  char* q = PQescapeIdentifier(conn_, name.c_str(), name.size());
  if (!q) throw alpaca::HttpError(400, "Invalid identifier", PQerrorMessage(conn_));
  std::string out(q);
  PQfreemem(q);
  return out;
}

std::string Session::literal(const std::string& value) {
  char* q = PQescapeLiteral(conn_, value.c_str(), value.size());
  if (!q) throw alpaca::HttpError(400, "Invalid value", PQerrorMessage(conn_));
  std::string out(q);
  PQfreemem(q);
  return out;
}

}  // namespace database
