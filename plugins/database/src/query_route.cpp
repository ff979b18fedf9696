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
#include "session.hpp"

namespace database {

using alpaca::HttpError;

namespace {

struct Body {
  std::string sql;
  std::optional<std::vector<std::optional<std::string>>> params;
};

// Commands that never change the schema (DO, CALL and functions may: the event triggers cover
// those a moment later).
bool plain_command(const char* tag) {
  static const char* kPlain[] = {
      "SELECT",     "INSERT",  "UPDATE", "DELETE", "MERGE",   "SET",      "RESET",    "SHOW",
      "FETCH",      "MOVE",    "COPY",   "NOTIFY", "LISTEN",  "UNLISTEN", "PREPARE",  "EXECUTE",
      "DEALLOCATE", "DECLARE", "CLOSE",  "BEGIN",  "START",   "COMMIT",   "ROLLBACK", "SAVEPOINT",
      "RELEASE",    "DISCARD", "LOCK",   "VACUUM", "ANALYZE", "EXPLAIN",  "TRUNCATE", "CHECKPOINT"};
  std::string_view t(tag ? tag : "");
  t = t.substr(0, t.find(' '));
  for (const char* p : kPlain)
    if (t == p) return true;
  return false;
}

Body parse_body(alpaca::Request& req) {
  auto obj = json_object_body(req);
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

}  // namespace

void check_duration(const std::string& value) {
  static const std::regex re("^[0-9]{1,9}(ms|s|min|h)?$");
  if (!std::regex_match(value, re))
    throw std::invalid_argument(
        "database.statement_timeout must look like 500ms, 30s or 2min, got '" + value + "'");
}

void QueryRoute::operator()(alpaca::Request& req, alpaca::Response& res) {
  Body body = parse_body(req);
  Session session(db_, req.project()->ref);
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
  bool ddl = false;  // some statement may have changed the schema
  std::optional<SqlError> failure;
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
      if (!plain_command(PQcmdStatus(r))) ddl = true;
      last = CapturedResult{};
      const char* n = PQcmdTuples(r);
      last.row_count = n && *n ? std::stoll(n) : 0;
    } else if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) {
      if (!failure) {
        failure = SqlError::from(r, conn);
        // Positions count from the caller's SQL, not from the settings sent before it.
        if (failure->position > 0) failure->position = std::max(1, failure->position - offset);
      }
    } else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
      // There is no stream to copy to or from over this endpoint: end the copy and say so.
      if (st == PGRES_COPY_IN) {
        PQputCopyEnd(conn, "COPY FROM STDIN is not supported by /query");
      } else {
        char* buf = nullptr;
        while (PQgetCopyData(conn, &buf, 0) > 0) PQfreemem(buf);
      }
      if (!failure)
        failure = SqlError("COPY to or from the client is not supported by /query",
                           "Use INSERT ... VALUES / SELECT instead", "0A000", 0);
    }
  }

  if (failure) {  // the session rolls back as it goes out of scope
    return send_sql_error(res, *failure, limits_.statement_timeout, false);
  }
  std::string json;
  try {
    json = result_to_json(conn, types_, last);
  } catch (const std::exception& e) {
    throw HttpError(500, "Could not encode the result", e.what());
  }
  if (!session.commit())
    throw HttpError(409, "The transaction could not be committed",
                    "It was rolled back (a deferred constraint or serialization failure?)");
  // The event triggers tell every host soon; this host's caches must know before we answer.
  if (ddl) announce_schema_change(db_, req.project()->ref);
  res.json(200, json);
}

}  // namespace database
