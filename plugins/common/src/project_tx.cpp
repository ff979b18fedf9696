#include "project_tx.hpp"

#include <libpq-fe.h>

namespace plugin_common {

Tx::Tx(const alpaca_db_api* db, const std::string& project_ref) : db_(db) {
  char err[512] = {0};
  s_ = db_->session_begin(project_ref.c_str(), nullptr, nullptr, err, sizeof err);
  if (!s_) throw DbError(std::string("cannot open the project database: ") + err, "");
}

Tx::~Tx() {
  if (s_) db_->session_end(s_, 0);
}

alpaca_db_result* Tx::run(const char* sql, const Params& params) {
  std::vector<const char*> p;
  p.reserve(params.size());
  for (const auto& v : params) p.push_back(v ? v->c_str() : nullptr);
  alpaca_db_result* r = nullptr;
  if (db_->query(s_, sql, static_cast<int>(p.size()), p.data(), &r) != ALPACA_OK) {
    const alpaca_db_error* e = db_->last_error(s_);
    std::string msg = e && e->message ? e->message : "query failed";
    if (e && e->detail && *e->detail) msg += std::string(" (") + e->detail + ")";
    throw DbError(msg, e && e->sqlstate ? e->sqlstate : "");
  }
  return r;
}

std::optional<std::string> Tx::value(const char* sql, const Params& params) {
  alpaca_db_result* r = run(sql, params);
  std::optional<std::string> out;
  if (db_->result_rows(r) > 0 && db_->result_columns(r) > 0) {
    if (const char* v = db_->result_value(r, 0, 0)) out = v;
  }
  db_->result_free(r);
  return out;
}

int64_t Tx::exec(const char* sql, const Params& params) {
  alpaca_db_result* r = run(sql, params);
  int64_t n = db_->result_affected(r);
  db_->result_free(r);
  return n;
}

void Tx::exec_script(const char* sql) {
  auto* conn = static_cast<PGconn*>(db_->raw_connection(s_));
  if (!conn) throw DbError("no database connection", "");
  PGresult* r = PQexec(conn, sql);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    std::string msg = PQresultErrorMessage(r);
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    PQclear(r);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    throw DbError(msg, state ? state : "");
  }
  PQclear(r);
}

void Tx::commit() {
  alpaca_db_session* s = s_;
  s_ = nullptr;
  if (db_->session_end(s, 1) != ALPACA_OK) throw DbError("commit failed", "");
}

}  // namespace plugin_common
