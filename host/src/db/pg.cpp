#include "db/pg.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <cstring>
#include <map>
#include <memory>
#include <utility>

namespace alpaca::db {
namespace {

std::string trim_right(std::string s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
    s.pop_back();
  }
  return s;
}

std::string field(const PGresult* res, int code) {
  const char* v = PQresultErrorField(res, code);
  return v ? std::string(v) : std::string();
}

// Server NOTICE/WARNING messages go to the log instead of libpq's default
// (stderr).
void notice_to_log(void* /*arg*/, const char* message) {
  spdlog::debug("postgres notice: {}", trim_right(message ? message : ""));
}

struct PQfreememDeleter {
  void operator()(void* p) const { PQfreemem(p); }
};

struct ConninfoOptionsDeleter {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};

}  // namespace

// ---------------------------------------------------------------- PgError

PgError::PgError(const std::string& message, std::string sqlstate_, std::string detail_,
                 std::string hint_, int position_)
    : std::runtime_error(message),
      sqlstate(std::move(sqlstate_)),
      detail(std::move(detail_)),
      hint(std::move(hint_)),
      position(position_) {}

PgError PgError::from_result(const PGresult* res, const PGconn* conn) {
  if (!res) return from_connection(conn);
  std::string message = field(res, PG_DIAG_MESSAGE_PRIMARY);
  if (message.empty()) message = trim_right(PQresultErrorMessage(res));
  if (message.empty()) message = PQresStatus(PQresultStatus(res));
  std::string sqlstate = field(res, PG_DIAG_SQLSTATE);
  if (sqlstate.empty() && conn && PQstatus(conn) == CONNECTION_BAD) sqlstate = "08006";
  int position = 0;
  std::string pos = field(res, PG_DIAG_STATEMENT_POSITION);
  if (!pos.empty()) std::from_chars(pos.data(), pos.data() + pos.size(), position);
  return PgError(message, std::move(sqlstate), field(res, PG_DIAG_MESSAGE_DETAIL),
                 field(res, PG_DIAG_MESSAGE_HINT), position);
}

PgError PgError::from_connection(const PGconn* conn, std::string_view context) {
  std::string message(context);
  std::string libpq = conn ? trim_right(PQerrorMessage(conn)) : "out of memory";
  if (libpq.empty()) libpq = "unknown libpq error";
  if (!message.empty()) message += ": ";
  message += libpq;
  bool bad = !conn || PQstatus(conn) == CONNECTION_BAD;
  return PgError(message, bad ? "08006" : "");
}

// ---------------------------------------------------------------- Result

Result::Result(Result&& other) noexcept : res_(std::exchange(other.res_, nullptr)) {}

Result& Result::operator=(Result&& other) noexcept {
  if (this != &other) {
    if (res_) PQclear(res_);
    res_ = std::exchange(other.res_, nullptr);
  }
  return *this;
}

Result::~Result() {
  if (res_) PQclear(res_);
}

int Result::rows() const {
  return res_ ? PQntuples(res_) : 0;
}
int Result::cols() const {
  return res_ ? PQnfields(res_) : 0;
}

const char* Result::value(int r, int c) const {
  if (!res_ || PQgetisnull(res_, r, c)) return nullptr;
  return PQgetvalue(res_, r, c);
}

std::string Result::get(int r, int c) const {
  if (!res_ || PQgetisnull(res_, r, c)) return {};
  return std::string(PQgetvalue(res_, r, c), static_cast<size_t>(PQgetlength(res_, r, c)));
}

bool Result::is_null(int r, int c) const {
  // PQgetisnull answers 1 for out-of-range cells, so does this.
  return !res_ || PQgetisnull(res_, r, c) != 0;
}

const char* Result::column_name(int c) const {
  return res_ ? PQfname(res_, c) : nullptr;
}

unsigned Result::column_type(int c) const {
  return res_ ? PQftype(res_, c) : 0;
}

int64_t Result::affected() const {
  if (!res_) return 0;
  const char* s = PQcmdTuples(res_);
  int64_t n = 0;
  if (s && *s) std::from_chars(s, s + std::strlen(s), n);
  return n;
}

PGresult* Result::release() noexcept {
  return std::exchange(res_, nullptr);
}

// ---------------------------------------------------------------- Connection

Connection Connection::open(const std::string& conninfo) {
  // expand_dbname=1: the "dbname" value is the whole conninfo (or URL) and is
  // expanded in place; keywords listed after it override it, keywords before
  // it are defaults it can override.
  const char* keywords[] = {"connect_timeout", "dbname", "client_encoding", nullptr};
  const char* values[] = {"10", conninfo.c_str(), "UTF8", nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, 1);
  if (!conn) throw PgError("could not connect to PostgreSQL: out of memory", "08006");
  if (PQstatus(conn) != CONNECTION_OK) {
    PgError err = PgError::from_connection(conn, "could not connect to PostgreSQL");
    PQfinish(conn);
    throw err;
  }
  PQsetNoticeProcessor(conn, notice_to_log, nullptr);
  return Connection(conn);
}

Connection::Connection(Connection&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)),
      prepared_(std::move(other.prepared_)),
      prepared_version_(other.prepared_version_),
      statements_made_(other.statements_made_),
      role_settings_(std::move(other.role_settings_)) {
  other.prepared_.clear();
}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    if (conn_) PQfinish(conn_);
    conn_ = std::exchange(other.conn_, nullptr);
    prepared_ = std::move(other.prepared_);
    other.prepared_.clear();
    prepared_version_ = other.prepared_version_;
    statements_made_ = other.statements_made_;
    role_settings_ = std::move(other.role_settings_);
  }
  return *this;
}

const std::string* Connection::prepared(const std::string& sql) const {
  auto it = prepared_.find(sql);
  return it == prepared_.end() ? nullptr : &it->second;
}

std::string Connection::next_statement_name() {
  if (prepared_.size() >= kMaxPrepared) return "";
  return "alpaca_" + std::to_string(++statements_made_);
}

void Connection::remember_prepared(const std::string& sql, std::string name) {
  prepared_.emplace(sql, std::move(name));
}

Connection::~Connection() {
  if (conn_) PQfinish(conn_);
}

Result Connection::check(PGresult* res) {
  if (!res) throw PgError::from_connection(conn_);
  switch (PQresultStatus(res)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
    case PGRES_COPY_IN:
    case PGRES_COPY_OUT:
    case PGRES_COPY_BOTH:
    case PGRES_SINGLE_TUPLE:
      return Result(res);
    default: {
      Result owned(res);  // freed after the error is built
      throw PgError::from_result(res, conn_);
    }
  }
}

Result Connection::exec(const std::string& sql) {
  if (!conn_) throw PgError("connection is not open", "08003");
  return check(PQexec(conn_, sql.c_str()));
}

Result Connection::exec(const std::string& sql,
                        const std::vector<std::optional<std::string>>& params) {
  if (!conn_) throw PgError("connection is not open", "08003");
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return check(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                            values.data(), nullptr, nullptr, 0));
}

bool Connection::healthy() const {
  return conn_ && PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE &&
         PQpipelineStatus(conn_) == PQ_PIPELINE_OFF;
}

std::string Connection::escape_identifier(std::string_view s) {
  if (!conn_) throw PgError("connection is not open", "08003");
  std::unique_ptr<char, PQfreememDeleter> out(PQescapeIdentifier(conn_, s.data(), s.size()));
  if (!out) throw PgError::from_connection(conn_, "could not escape identifier");
  return std::string(out.get());
}

std::string Connection::escape_literal(std::string_view s) {
  if (!conn_) throw PgError("connection is not open", "08003");
  std::unique_ptr<char, PQfreememDeleter> out(PQescapeLiteral(conn_, s.data(), s.size()));
  if (!out) throw PgError::from_connection(conn_, "could not escape literal");
  return std::string(out.get());
}

// ---------------------------------------------------------------- conninfo

std::string quote_conninfo_value(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 2);
  out += '\'';
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

std::string conninfo_with(const std::string& base_conninfo_or_url,
                          const std::map<std::string, std::string>& overrides) {
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoOptionsDeleter> opts(
      PQconninfoParse(base_conninfo_or_url.c_str(), &err));
  if (!opts) {
    std::unique_ptr<char, PQfreememDeleter> owned(err);
    std::string msg = "invalid PostgreSQL connection string";
    if (owned) msg += ": " + trim_right(owned.get());
    throw PgError(msg);
  }
  std::string out;
  for (const PQconninfoOption* o = opts.get(); o->keyword; ++o) {
    if (!o->val || overrides.count(o->keyword)) continue;
    out += o->keyword;
    out += '=';
    out += quote_conninfo_value(o->val);
    out += ' ';
  }
  for (const auto& [k, v] : overrides) {
    out += k;
    out += '=';
    out += quote_conninfo_value(v);
    out += ' ';
  }
  out.pop_back();
  return out;
}

std::string conninfo_with_dbname(const std::string& base_conninfo_or_url,
                                 const std::string& dbname) {
  return conninfo_with(base_conninfo_or_url, {{"dbname", dbname}});
}

}  // namespace alpaca::db
