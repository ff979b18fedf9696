#include "tables_routes.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include "catalog_sql.hpp"
#include "json_util.hpp"
#include "session.hpp"
#include "table_spec.hpp"

namespace database {

using alpaca::HttpError;
using alpaca::Request;
using alpaca::Response;
using Params = std::vector<std::optional<std::string>>;

namespace {

std::string schema_of(const Request& req) {
  const char* s = req.query("schema");
  std::string schema = s ? s : "public";
  check_user_schema(schema);
  return schema;
}

std::optional<std::string> one_table(Session& s, const std::string& schema,
                                     const std::string& table) {
  return s.text(std::string("SELECT to_json(t)::text FROM (") + sql::kTableRows + ") t",
                {schema, table});
}

std::optional<std::string> one_column(Session& s, const std::string& schema,
                                      const std::string& table, const std::string& column) {
  return s.text(std::string("SELECT to_json(t)::text FROM (") + sql::kColumnRows + ") t",
                {schema, table, column});
}

std::string require_table(Session& s, const std::string& schema, const std::string& table) {
  auto t = one_table(s, schema, table);
  if (!t) throw HttpError(404, "Table not found", schema + "." + table);
  return *t;
}

// Runs fn; a Postgres error becomes the API's SQL error answer.
template <typename F>
alpaca::Handler sql_errors(const std::string& timeout, F fn) {
  return [timeout, fn](Request& req, Response& res) {
    try {
      fn(req, res);
    } catch (const SqlError& e) {
      send_sql_error(res, e, timeout);
    }
  };
}

}  // namespace

void TablesRoutes::add_to(alpaca::Host& host) {
  const auto M = ALPACA_SCOPE_MANAGEMENT;
  auto bind = [this](void (TablesRoutes::*m)(Request&, Response&)) {
    return sql_errors(timeout_, [this, m](Request& req, Response& res) { (this->*m)(req, res); });
  };
  host.route(M, "GET", "/projects/:id/tables", bind(&TablesRoutes::list_tables));
  host.route(M, "POST", "/projects/:id/tables", bind(&TablesRoutes::create_table));
  host.route(M, "DELETE", "/projects/:id/tables/:table", bind(&TablesRoutes::drop_table));
  host.route(M, "GET", "/projects/:id/tables/:table/columns", bind(&TablesRoutes::list_columns));
  host.route(M, "POST", "/projects/:id/tables/:table/columns", bind(&TablesRoutes::add_column));
  host.route(M, "DELETE", "/projects/:id/tables/:table/columns/:col",
             bind(&TablesRoutes::drop_column));
}

void TablesRoutes::list_tables(Request& req, Response& res) {
  std::string schema = schema_of(req);
  Session s(db_, req.project()->ref);
  auto out = s.text(std::string("SELECT coalesce(json_agg(t ORDER BY t.name), '[]')::text FROM (") +
                        sql::kTableRows + ") t",
                    {schema, std::nullopt});
  res.json(200, out.value_or("[]"));
}

void TablesRoutes::create_table(Request& req, Response& res) {
  auto body = json_object_body(req);
  static const char* known[] = {"name", "schema", "columns", "rls_enabled", "comment"};
  for (const auto& [k, v] : *body) {
    bool found = false;
    for (const char* n : known) found = found || k == n;
    if (!found)
      throw HttpError(400, "Unknown field '" + k + "'",
                      "Fields: name, schema, columns, rls_enabled, comment");
  }
  if (!body->has("name") || !body->get("name").isString())
    throw HttpError(400, "Field 'name' is required and must be a string");
  std::string name = body->getValue<std::string>("name");
  check_name("Table name", name);
  std::string schema = "public";
  if (body->has("schema")) {
    if (!body->get("schema").isString()) throw HttpError(400, "Field 'schema' must be a string");
    schema = body->getValue<std::string>("schema");
  }
  check_user_schema(schema);
  std::vector<ColumnSpec> columns;
  if (body->has("columns")) {
    auto arr = body->getArray("columns");
    if (!arr) throw HttpError(400, "Field 'columns' must be an array of column objects");
    for (size_t i = 0; i < arr->size(); ++i) {
      auto col = arr->getObject(static_cast<unsigned>(i));
      if (!col) throw HttpError(400, "columns[" + std::to_string(i) + "] must be an object");
      columns.push_back(parse_column(*col, schema));
    }
  }
  bool rls = false;
  if (body->has("rls_enabled")) {
    if (body->get("rls_enabled").type() != typeid(bool))
      throw HttpError(400, "Field 'rls_enabled' must be a boolean");
    rls = body->getValue<bool>("rls_enabled");
  }
  std::optional<std::string> comment;
  if (body->has("comment") && !body->isNull("comment")) {
    if (!body->get("comment").isString()) throw HttpError(400, "Field 'comment' must be a string");
    comment = body->getValue<std::string>("comment");
  }

  Session s(db_, req.project()->ref);
  std::string qualified = s.identifier(schema) + "." + s.identifier(name);
  std::string ddl = "CREATE TABLE " + qualified + " (";
  bool has_pk = false;
  for (const auto& c : columns) has_pk = has_pk || c.primary_key;
  if (!has_pk) {
    for (const auto& c : columns)
      if (c.name == "id")
        throw HttpError(400, "Column 'id' is not a primary key",
                        "Mark a primary key, or leave out 'id' and one is added");
    ddl += "id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY";
  }
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i || !has_pk) ddl += ", ";
    ddl += column_ddl(s, columns[i]);
  }
  ddl += ")";
  s.exec(ddl);
  if (rls) s.exec("ALTER TABLE " + qualified + " ENABLE ROW LEVEL SECURITY");
  if (comment) s.exec("COMMENT ON TABLE " + qualified + " IS " + s.literal(*comment));
  std::string out = require_table(s, schema, name);
  if (!s.commit()) throw HttpError(409, "The table could not be created", "Rolled back");
  announce_schema_change(db_, req.project()->ref);
  res.json(201, out);
}

void TablesRoutes::drop_table(Request& req, Response& res) {
  std::string schema = schema_of(req);
  std::string table(req.param("table"));
  check_name("Table name", table);
  const char* cascade = req.query("cascade");
  Session s(db_, req.project()->ref);
  std::string out = require_table(s, schema, table);
  s.exec("DROP TABLE " + s.identifier(schema) + "." + s.identifier(table) +
         (cascade && std::string(cascade) == "true" ? " CASCADE" : ""));
  if (!s.commit()) throw HttpError(409, "The table could not be dropped", "Rolled back");
  announce_schema_change(db_, req.project()->ref);
  res.json(200, out);
}

void TablesRoutes::list_columns(Request& req, Response& res) {
  std::string schema = schema_of(req);
  std::string table(req.param("table"));
  check_name("Table name", table);
  Session s(db_, req.project()->ref);
  require_table(s, schema, table);
  auto out = s.text(
      std::string("SELECT coalesce(json_agg(t), '[]')::text FROM (") + sql::kColumnRows + ") t",
      {schema, table, std::nullopt});
  res.json(200, out.value_or("[]"));
}

void TablesRoutes::add_column(Request& req, Response& res) {
  std::string schema = schema_of(req);
  std::string table(req.param("table"));
  check_name("Table name", table);
  auto body = json_object_body(req);
  ColumnSpec c = parse_column(*body, schema);
  Session s(db_, req.project()->ref);
  require_table(s, schema, table);
  s.exec("ALTER TABLE " + s.identifier(schema) + "." + s.identifier(table) + " ADD COLUMN " +
         column_ddl(s, c));
  auto out = one_column(s, schema, table, c.name);
  if (!s.commit()) throw HttpError(409, "The column could not be added", "Rolled back");
  announce_schema_change(db_, req.project()->ref);
  res.json(201, out.value_or("{}"));
}

void TablesRoutes::drop_column(Request& req, Response& res) {
  std::string schema = schema_of(req);
  std::string table(req.param("table")), column(req.param("col"));
  check_name("Table name", table);
  check_name("Column name", column);
  const char* cascade = req.query("cascade");
  Session s(db_, req.project()->ref);
  require_table(s, schema, table);
  auto out = one_column(s, schema, table, column);
  if (!out) throw HttpError(404, "Column not found", schema + "." + table + "." + column);
  s.exec("ALTER TABLE " + s.identifier(schema) + "." + s.identifier(table) + " DROP COLUMN " +
         s.identifier(column) + (cascade && std::string(cascade) == "true" ? " CASCADE" : ""));
  if (!s.commit()) throw HttpError(409, "The column could not be dropped", "Rolled back");
  announce_schema_change(db_, req.project()->ref);
  res.json(200, *out);
}

}  // namespace database
