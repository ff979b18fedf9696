#include "query_route.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <regex>
#include <sstream>

#include "json_util.hpp"
#include "result_json.hpp"

namespace database {

using alpaca::HttpError;

namespace {

struct Body {
  std::string sql;
  std::optional<std::vector<std::optional<std::string>>> params;
};

Body parse_body(alpaca::Request& req) {
  std::string text = req.body();
  if (text.empty()) throw HttpError(400, "Request body is required", "Send {\"sql\": \"...\"}");
  Poco::Dynamic::Var v;
  try {
    Poco::JSON::Parser parser;
    v = parser.parse(text);
  } catch (const std::exception& e) {
    throw HttpError(400, "Malformed JSON body", e.what());
  }
  if (v.type() != typeid(Poco::JSON::Object::Ptr))
    throw HttpError(400, "Request body must be a JSON object");
  auto obj = v.extract<Poco::JSON::Object::Ptr>();
  Body body;
  for (const auto& [key, value] : *obj) {
    if (key == "sql") {
      if (!value.isString()) throw HttpError(400, "Field 'sql' must be a string");
      body.sql = value.extract<std::string>();
    } else if (key == "params") {
      if (value.type() != typeid(Poco::JSON::Array::Ptr))
        throw HttpError(400, "Field 'params' must be an array");
      body.params.emplace();
      for (const auto& p : *value.extract<Poco::JSON::Array::Ptr>()) {
        if (p.isEmpty()) {
          body.params->push_back(std::nullopt);
        } else if (p.type() == typeid(Poco::JSON::Object::Ptr) ||
                   p.type() == typeid(Poco::JSON::Array::Ptr)) {
          std::ostringstream s;  // objects and arrays go as their JSON text (for json/jsonb)
          Poco::JSON::Stringifier::stringify(p, s);
          body.params->push_back(s.str());
        } else if (p.type() == typeid(bool)) {
          body.params->push_back(p.extract<bool>() ? "true" : "false");
        } else {
          body.params->push_back(p.convert<std::string>());
        }
      }
    } else {
      throw HttpError(400, "Unknown field '" + key + "'", "Fields: sql, params");
    }
  }
  if (body.sql.find_first_not_of(" \t\r\n;") == std::string::npos)
    throw HttpError(400, "Field 'sql' is required and must not be empty");
  // libpq takes C strings: a NUL would silently cut the text short.
  if (body.sql.find('\0') != std::string::npos)
    throw HttpError(400, "Field 'sql' contains a NUL character", "PostgreSQL text cannot hold it");
  if (body.params)
    for (size_t i = 0; i < body.params->size(); ++i)
      if ((*body.params)[i] && (*body.params)[i]->find('\0') != std::string::npos)
        throw HttpError(400, "params[" + std::to_string(i) + "] contains a NUL character",
                        "PostgreSQL text cannot hold it");
  return body;
}

std::string field(const PGresult* r, int code) {
  const char* v = PQresultErrorField(r, code);
  return v ? v : "";
}

// A Postgres error as the API answers it: 400 (408 for the statement timeout).
struct QueryError {
  int status = 400;
  std::string message, detail, code;
  int position = 0;
};

QueryError error_from(const PGresult* r, PGconn* conn, int position_offset,
                      const std::string& timeout) {
  QueryError e;
  e.message = r ? field(r, PG_DIAG_MESSAGE_PRIMARY) : "";
  if (e.message.empty()) {
    e.message = PQerrorMessage(conn);
    while (!e.message.empty() && (e.message.back() == '\n' || e.message.back() == ' '))
      e.message.pop_back();
  }
  if (r) {
    e.detail = field(r, PG_DIAG_MESSAGE_DETAIL);
    if (e.detail.empty()) e.detail = field(r, PG_DIAG_MESSAGE_HINT);
    e.code = field(r, PG_DIAG_SQLSTATE);
    std::string pos = field(r, PG_DIAG_STATEMENT_POSITION);
    if (!pos.empty()) e.position = std::max(1, std::stoi(pos) - position_offset);
  }
  if (e.code == "57014" && e.message.find("statement timeout") != std::string::npos) {
    e.status = 408;
    e.message = "Query exceeded the statement timeout of " + timeout;
  }
  return e;
}

std::string error_json(const QueryError& e) {
  std::string out = "{\"error\":";
  append_string(out, e.message);
  out += ",\"detail\":";
  if (e.detail.empty())
    out += "null";
  else
    append_string(out, e.detail);
  out += ",\"code\":";
  append_string(out, e.code);
  if (e.position > 0) out += ",\"position\":" + std::to_string(e.position);
  return out + "}";
}

// Ends the session when the handler leaves, whatever happens.
class Session {
 public:
  Session(const alpaca_db_api* db, alpaca_db_session* s) : db_(db), s_(s) {}
  Session(const Session&) = delete;
  ~Session() {
    if (s_) db_->session_end(s_, 0);
  }
  alpaca_status end(bool commit) {
    alpaca_status st = db_->session_end(s_, commit ? 1 : 0);
    s_ = nullptr;
    return st;
  }
  PGconn* conn() const { return static_cast<PGconn*>(db_->raw_connection(s_)); }

 private:
  const alpaca_db_api* db_;
  alpaca_db_session* s_;
};

}  // namespace

void check_duration(const std::string& value) {
  static const std::regex re("^[0-9]{1,9}(ms|s|min|h)?$");
  if (!std::regex_match(value, re))
    throw std::invalid_argument(
        "database.statement_timeout must look like 500ms, 30s or 2min, got '" + value + "'");
}

void QueryRoute::operator()(alpaca::Request& req, alpaca::Response& res) {
  Body body = parse_body(req);
  char err[512];
  alpaca_db_session* raw =
      db_->session_begin(req.project()->ref, nullptr, nullptr, err, sizeof err);
  if (!raw) throw HttpError(503, "Database unavailable", err);
  Session session(db_, raw);
  PGconn* conn = session.conn();

  // Settings for this transaction only. Without params they travel with the SQL itself (one
  // round trip); the timeout was validated at start, so it is safe to inline.
  std::string prefix = "SET LOCAL statement_timeout = '" + limits_.statement_timeout +
                       "'; SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, MDY'; "
                       "SET LOCAL IntervalStyle = 'postgres'; SET LOCAL bytea_output = 'hex';\n";
  int sent = 0;
  int offset = 0;
  if (!body.params) {
    std::string sql = prefix + body.sql;
    offset = static_cast<int>(prefix.size());
    sent = PQsendQuery(conn, sql.c_str());
  } else {
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn, prefix.c_str()), &PQclear);
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
      throw HttpError(500, "Could not prepare the session", PQerrorMessage(conn));
    std::vector<const char*> values;
    for (const auto& p : *body.params) values.push_back(p ? p->c_str() : nullptr);
    sent = PQsendQueryParams(conn, body.sql.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, 0);
  }
  if (!sent) throw HttpError(500, "Could not send the query", PQerrorMessage(conn));
  PQsetSingleRowMode(conn);  // rows arrive one by one: the caps bound memory

  // Each statement's rows come as SINGLE_TUPLE results, closed by TUPLES_OK; other statements
  // give COMMAND_OK. Only the last statement's result is kept.
  CapturedResult last, current;
  bool in_rows = false;
  std::optional<QueryError> failure;
  while (PGresult* r = PQgetResult(conn)) {
    std::unique_ptr<PGresult, decltype(&PQclear)> guard(r, &PQclear);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) {
      if (!in_rows) {
        current = CapturedResult{};
        for (int c = 0; c < PQnfields(r); ++c) {
          current.names.emplace_back(PQfname(r, c));
          current.types.emplace_back(PQftype(r, c), PQfmod(r, c));
        }
        in_rows = true;
      }
      if (st == PGRES_SINGLE_TUPLE) {
        ++current.row_count;
        if (current.truncated) continue;
        std::vector<std::optional<std::string>> row;
        size_t bytes = 0;
        for (int c = 0; c < PQnfields(r); ++c) {
          if (PQgetisnull(r, 0, c)) {
            row.emplace_back(std::nullopt);
          } else {
            row.emplace_back(std::string(PQgetvalue(r, 0, c), PQgetlength(r, 0, c)));
            bytes += row.back()->size();
          }
        }
        if (static_cast<int64_t>(current.rows.size()) >= limits_.max_rows ||
            static_cast<int64_t>(current.bytes + bytes) > limits_.max_bytes) {
          current.truncated = true;  // keep reading (and counting) but store no more
          continue;
        }
        current.bytes += bytes;
        current.rows.push_back(std::move(row));
      } else {
        last = std::move(current);
        in_rows = false;
      }
    } else if (st == PGRES_COMMAND_OK) {
      last = CapturedResult{};
      const char* n = PQcmdTuples(r);
      last.row_count = n && *n ? std::stoll(n) : 0;
    } else if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) {
      if (!failure) failure = error_from(r, conn, offset, limits_.statement_timeout);
    } else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
      // There is no stream to copy to or from over this endpoint: end the copy and say so.
      if (st == PGRES_COPY_IN) {
        PQputCopyEnd(conn, "COPY FROM STDIN is not supported by /query");
      } else {
        char* buf = nullptr;
        while (PQgetCopyData(conn, &buf, 0) > 0) PQfreemem(buf);
      }
      if (!failure)
        failure = QueryError{400, "COPY to or from the client is not supported by /query",
                             "Use INSERT ... VALUES / SELECT instead", "0A000", 0};
    }
  }

  if (failure) {
    session.end(false);  // rolled back
    return res.json(failure->status, error_json(*failure));
  }
  std::string json;
  try {
    json = result_to_json(conn, types_, last);
  } catch (const std::exception& e) {
    throw HttpError(500, "Could not encode the result", e.what());
  }
  if (session.end(true) != ALPACA_OK)
    throw HttpError(409, "The transaction could not be committed",
                    "It was rolled back (a deferred constraint or serialization failure?)");
  res.json(200, json);
}

}  // namespace database
