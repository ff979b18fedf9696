#include "rows_routes.hpp"

#include <Poco/JSON/Parser.h>

#include <algorithm>

#include "body_keys_sql.hpp"
#include "grammar/parser.hpp"
#include "grammar/sql_builder.hpp"
#include "json_util.hpp"
#include "session.hpp"
#include "table_spec.hpp"

namespace database {

using alpaca::HttpError;
using alpaca::Request;
using alpaca::Response;
namespace g = grammar;

// The table the route names, checked, and its quoted "schema"."table" once a session is open.
struct Target {
  std::string schema, table;
  std::string qualified(Session& s) const {
    return s.identifier(schema) + "." + s.identifier(table);
  }
  std::string label() const { return schema + "." + table; }
};

namespace {

Target target_of(const Request& req, const std::string& schema) {
  Target t{schema, std::string(req.param("table"))};
  check_user_schema(t.schema);
  check_name("Table name", t.table);
  return t;
}

std::string schema_param(const Request& req) {
  const char* s = req.query("schema");
  return s ? s : "public";
}

void begin(Session& s, const std::string& timeout) {
  s.set_timeout(timeout);  // travels with the first statement
}

// The rows API reads one table: embedded resources are /rest/v1's.
void refuse_embeds(const g::ReadQuery& q) {
  const char* detail = "Use /rest/v1 to embed related tables";
  for (const auto& item : q.select)
    if (item.kind == g::SelectItem::Kind::Embed)
      throw HttpError(400, "Embedded resource '" + item.relation + "' is not supported here",
                      detail);
  if (q.resources.size() > 1)
    throw HttpError(
        400,
        "Filters on embedded resource '" + q.resources[1].path.front() + "' are not supported here",
        detail);
  for (const auto& t : q.root().order)
    if (!t.relation.empty())
      throw HttpError(400, "Ordering by related table '" + t.relation + "' is not supported here",
                      detail);
}

// A missing table or schema is a 404 on these routes, like on the table API.
template <typename F>
alpaca::Handler sql_errors(const std::string& timeout, F fn) {
  return [timeout, fn](Request& req, Response& res) {
    try {
      fn(req, res);
    } catch (const g::ParseError& e) {
      throw HttpError(400, e.what(), e.detail);
    } catch (const SqlError& e) {
      if (e.code == "42P01" || e.code == "3F000") throw HttpError(404, "Table not found", e.what());
      SqlError shown = e;
      shown.position = 0;  // a position in SQL the caller did not write would mislead
      send_sql_error(res, shown, timeout);
    }
  };
}

}  // namespace

// The name of the table's single-column primary key; 404/400 when there is none to use.
// Cached per schema version: a table's key is read from the catalog once, not per request.
std::string RowsRoutes::primary_key(Session& s, const char* ref, const Target& t) {
  std::string key = std::string(ref) + '\0' + t.schema + '\0' + t.table;
  uint64_t version = schema_version(db_, ref);
  auto info = primary_keys_.get(key, version);
  if (!info)
    info = s.text(R"sql(
SELECT json_build_object('pk', (SELECT json_agg(a.attname ORDER BY a.attnum)
                                  FROM pg_constraint k
                                  JOIN pg_attribute a ON a.attrelid = k.conrelid
                                                     AND a.attnum = ANY (k.conkey)
                                 WHERE k.conrelid = c.oid AND k.contype = 'p'))::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p'))sql",
                  {t.schema, t.table});
  if (!info) throw HttpError(404, "Table not found", t.label());
  primary_keys_.put(key, version, *info);
  auto obj = Poco::JSON::Parser().parse(*info).extract<Poco::JSON::Object::Ptr>();
  auto pk = obj->getArray("pk");
  if (!pk || pk->size() == 0)
    throw HttpError(400, "Table " + t.label() + " has no primary key",
                    "Rows are addressed by a single-column primary key; use /query for this "
                    "table, or add a primary key");
  if (pk->size() > 1)
    throw HttpError(400, "Table " + t.label() + " has a composite primary key",
                    "Rows are addressed by a single-column primary key; use /query or /rest/v1 "
                    "filters for this table");
  return pk->getElement<std::string>(0);
}

namespace {

// The body's keys, checked as column names (values go to Postgres as the JSON text itself).
// Poco reads the keys; a number Poco cannot hold (past 2^64, 1e400) is still JSON that
// Postgres keeps to the last digit, so then Postgres lists the keys.
std::vector<std::string> body_columns(Session& s, const std::string& json) {
  std::vector<std::string> columns;
  auto add = [&columns](const std::string& key) {
    check_name("Column name", key);
    columns.push_back(key);
  };
  try {
    auto body = json_object_body(json);  // held: the loop must not outlive it
    for (const auto& [key, value] : *body) add(key);
    return columns;
  } catch (const HttpError& e) {
    if (json.empty() || std::string(e.what()) != "Malformed JSON body") throw;
    std::optional<std::string> keys;
    try {
      keys = s.text(body_keys_sql("$1::json", false), {json});
    } catch (const SqlError&) {
      throw e;  // not JSON for Postgres either
    }
    if (!keys) throw HttpError(400, "Request body must be a JSON object");
    auto arr = Poco::JSON::Parser().parse(*keys).extract<Poco::JSON::Array::Ptr>();
    for (size_t i = 0; i < arr->size(); ++i) add(arr->getElement<std::string>(i));
    return columns;
  }
}

std::string column_list(Session& s, const std::vector<std::string>& columns) {
  std::string out;
  for (const auto& c : columns) out += (out.empty() ? "" : ", ") + s.identifier(c);
  return out;
}

}  // namespace

void RowsRoutes::add_to(alpaca::Host& host) {
  const auto M = ALPACA_SCOPE_MANAGEMENT;
  auto bind = [this](void (RowsRoutes::*m)(Request&, Response&)) {
    return sql_errors(limits_.statement_timeout,
                      [this, m](Request& req, Response& res) { (this->*m)(req, res); });
  };
  host.route(M, "GET", "/projects/:id/tables/:table/rows", bind(&RowsRoutes::list));
  host.route(M, "POST", "/projects/:id/tables/:table/rows", bind(&RowsRoutes::insert));
  host.route(M, "PATCH", "/projects/:id/tables/:table/rows/:pk", bind(&RowsRoutes::update));
  host.route(M, "DELETE", "/projects/:id/tables/:table/rows/:pk", bind(&RowsRoutes::remove));
}

void RowsRoutes::list(Request& req, Response& res) {
  g::ReadQuery q = g::parse_read_query(g::split_query_string(req.query_string()), {"schema"});
  refuse_embeds(q);
  std::string schema = "public";
  for (const auto& [k, v] : q.other) schema = v;
  Target t = target_of(req, schema);
  int64_t limit = std::min(q.root().limit.value_or(limits_.default_limit), limits_.max_rows);
  int64_t offset = q.root().offset.value_or(0);

  Session s(db_, req.project()->ref);
  begin(s, limits_.statement_timeout);
  g::SqlBuilder sql(
      [&s](const std::string& n) { return s.identifier(n); },
      [&s](const std::string& v) { return s.literal(v); },
      [&s, &t](const std::string& column) {
        return s
            .text(
                "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = "
                "c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3 "
                "AND NOT a.attisdropped",
                {t.schema, t.table, column})
            .value_or("");
      });
  g::SqlParams params;
  std::string from = t.qualified(s) + " r WHERE " + sql.conditions(q.root().where, "r", params);
  std::string order = sql.order_by(q.root().order, "r");
  // {"rows":[...],"count":n} assembled by Postgres as text (json_build_object adds spaces).
  std::string text = "SELECT '{\"rows\":' || coalesce((SELECT json_agg(t.*) FROM (SELECT " +
                     sql.select_list(q.select, "r") + " FROM " + from +
                     (order.empty() ? "" : " ORDER BY " + order) + " LIMIT " +
                     std::to_string(limit) + " OFFSET " + std::to_string(offset) +
                     ") t)::text, '[]') || ',\"count\":' || (SELECT count(*) FROM " + from +
                     ") || '}'";
  auto out = s.text(text, params.values);  // read only: the session rolls back
  res.json(200, out.value_or("{\"rows\":[],\"count\":0}"));
}

void RowsRoutes::insert(Request& req, Response& res) {
  Target t = target_of(req, schema_param(req));
  std::string json = req.body();  // streamed: read once
  Session s(db_, req.project()->ref);
  begin(s, limits_.statement_timeout);
  auto columns = body_columns(s, json);
  std::string table = t.qualified(s);
  std::optional<std::string> row;
  if (columns.empty()) {
    row = s.text("INSERT INTO " + table + " AS r DEFAULT VALUES RETURNING to_json(r.*)::text");
  } else {
    // json_populate_record gives every value the column's own type (arrays, json, numerics).
    std::string list = column_list(s, columns);
    row = s.text("INSERT INTO " + table + " AS r (" + list + ") SELECT " + list +
                     " FROM json_populate_record(NULL::" + table +
                     ", $1::json) RETURNING to_json(r.*)::text",
                 {json});
  }
  if (!s.commit()) throw HttpError(409, "The row could not be inserted", "Rolled back");
  res.json(201, row.value_or("{}"));
}

void RowsRoutes::update(Request& req, Response& res) {
  Target t = target_of(req, schema_param(req));
  std::string id(req.param("pk"));
  std::string json = req.body();  // streamed: read once
  Session s(db_, req.project()->ref);
  begin(s, limits_.statement_timeout);
  auto columns = body_columns(s, json);
  if (columns.empty())
    throw HttpError(400, "Nothing to update", "Send an object of the columns to change");
  std::string pk = primary_key(s, req.project()->ref, t);
  std::string table = t.qualified(s);
  std::string list = column_list(s, columns);
  auto row = s.text("UPDATE " + table + " AS r SET (" + list + ") = (SELECT " + list +
                        " FROM json_populate_record(NULL::" + table + ", $1::json)) WHERE r." +
                        s.identifier(pk) + " = $2 RETURNING to_json(r.*)::text",
                    {json, id});
  if (!row)
    throw HttpError(404, "Row not found", "No row of " + t.label() + " with " + pk + " = " + id);
  if (!s.commit()) throw HttpError(409, "The row could not be updated", "Rolled back");
  res.json(200, *row);
}

void RowsRoutes::remove(Request& req, Response& res) {
  Target t = target_of(req, schema_param(req));
  std::string id(req.param("pk"));
  Session s(db_, req.project()->ref);
  begin(s, limits_.statement_timeout);
  std::string pk = primary_key(s, req.project()->ref, t);
  auto row = s.text("DELETE FROM " + t.qualified(s) + " AS r WHERE r." + s.identifier(pk) +
                        " = $1 RETURNING to_json(r.*)::text",
                    {id});
  if (!row)
    throw HttpError(404, "Row not found", "No row of " + t.label() + " with " + pk + " = " + id);
  if (!s.commit()) throw HttpError(409, "The row could not be deleted", "Rolled back");
  res.json(200, *row);
}

}  // namespace database
