#pragma once
// A management session on a project's database (alpaca_admin, one transaction), ended when it
// goes out of scope (rolled back unless committed), with small helpers over libpq.
#include <libpq-fe.h>

#include <alpaca/plugin.hpp>
#include <optional>
#include <string>
#include <vector>

namespace database {

// A Postgres error, as the API reports it.
struct SqlError : std::runtime_error {
  SqlError(const std::string& message, std::string detail, std::string code, int position)
      : std::runtime_error(message),
        detail(std::move(detail)),
        code(std::move(code)),
        position(position) {}
  std::string detail;  // detail, else hint
  std::string code;    // SQLSTATE
  int position = 0;
  static SqlError from(const PGresult* r, PGconn* conn);
};

// {"error","detail","code","position"?} with 400 (408 for a statement timeout; with
// `conflicts`, 409 for duplicates and dependencies — the table API — where /query keeps 400).
void send_sql_error(alpaca::Response& res, const SqlError& e, const std::string& timeout,
                    bool conflicts = true);

// Tells the host (when it can be told) that DDL on the project's database just committed.
void announce_schema_change(const alpaca_db_api* db, const char* project_ref);
// The project's schema version (0: do not cache; also when the host cannot tell).
uint64_t schema_version(const alpaca_db_api* db, const char* project_ref);

class Session {
 public:
  Session(const alpaca_db_api* db, const char* project_ref);
  Session(const Session&) = delete;
  ~Session();
  PGconn* conn() const { return conn_; }
  // statement_timeout for the rest of the transaction, sent with the next statement (pipelined:
  // no round trip of its own).
  void set_timeout(std::string timeout) { pending_timeout_ = std::move(timeout); }
  // Runs one statement with text params; throws SqlError.
  void exec(const std::string& sql, const std::vector<std::optional<std::string>>& params = {});
  // The first column of the first row as text (nullopt for no row / NULL); throws SqlError.
  std::optional<std::string> text(const std::string& sql,
                                  const std::vector<std::optional<std::string>>& params = {});
  std::string identifier(const std::string& name);  // quoted by libpq
  std::string literal(const std::string& value);    // quoted by libpq
  // Commits; false when Postgres rolled back instead.
  bool commit();

 private:
  const alpaca_db_api* db_;
  alpaca_db_session* s_ = nullptr;
  PGconn* conn_ = nullptr;
  std::optional<std::string> pending_timeout_;
};

}  // namespace database
