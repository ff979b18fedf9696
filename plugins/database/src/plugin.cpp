// The "database" plugin: SQL and table management for a project, on the management API.
#include <alpaca/plugin.hpp>

#include "query_route.hpp"
#include "rest/rest_routes.hpp"
#include "rows_routes.hpp"
#include "table_spec.hpp"
#include "tables_routes.hpp"
#include "type_names.hpp"

namespace database {

class DatabasePlugin : public alpaca::Plugin {
 public:
  explicit DatabasePlugin(alpaca::Host& host)
      : Plugin(host),
        query_(limits(host), types_),
        tables_(limits(host).statement_timeout),
        rows_(rows_limits(host)),
        rest_(rest_schemas(host), limits(host).max_rows) {
    host.route(ALPACA_SCOPE_MANAGEMENT, "POST", "/projects/:id/query",
               [this](alpaca::Request& req, alpaca::Response& res) { query_(req, res); });
    tables_.add_to(host);
    rows_.add_to(host);
    rest_.add_to(host);
  }

  void start() override {
    const auto* db = host().get<alpaca_db_api>(ALPACA_DB_INTERFACE, ALPACA_DB_VERSION);
    if (!db) throw std::runtime_error("the host does not provide alpaca.db v1");
    query_.set_db(db);
    tables_.set_db(db);
    rows_.set_db(db);
    if (!ALPACA_DB_HAS(db, request_statement))
      throw std::runtime_error(
          "the host's alpaca.db lacks request_statement (a newer host is needed)");
    rest_.set_db(db);
  }

 private:
  static QueryLimits limits(alpaca::Host& host) {
    QueryLimits l;
    l.statement_timeout = host.config("statement_timeout", "30s");
    check_duration(l.statement_timeout);
    l.max_rows = std::stoll(host.config("max_rows", "100000"));
    l.max_bytes = std::stoll(host.config("max_bytes", "20971520"));
    if (l.max_rows < 1 || l.max_bytes < 1)
      throw std::invalid_argument("database.max_rows and database.max_bytes must be positive");
    return l;
  }

  static RowsLimits rows_limits(alpaca::Host& host) {
    QueryLimits q = limits(host);
    RowsLimits l;
    l.statement_timeout = q.statement_timeout;
    l.max_rows = q.max_rows;
    l.default_limit = std::stoll(host.config("rows_limit", "100"));
    if (l.default_limit < 1) throw std::invalid_argument("database.rows_limit must be positive");
    l.default_limit = std::min(l.default_limit, l.max_rows);
    return l;
  }

  // database.rest_schemas: the schemas /rest/v1 exposes, comma-separated; the first is the default.
  static std::vector<std::string> rest_schemas(alpaca::Host& host) {
    std::vector<std::string> out;
    std::string list = host.config("rest_schemas", "public");
    size_t i = 0;
    while (i <= list.size()) {
      size_t comma = list.find(',', i);
      if (comma == std::string::npos) comma = list.size();
      std::string name = list.substr(i, comma - i);
      name.erase(0, name.find_first_not_of(' '));
      name.erase(name.find_last_not_of(' ') + 1);
      if (!name.empty()) {
        check_user_schema(name);
        out.push_back(name);
      }
      i = comma + 1;
    }
    if (out.empty()) throw std::invalid_argument("database.rest_schemas names no schema");
    return out;
  }

  TypeNames types_;
  QueryRoute query_;
  TablesRoutes tables_;
  RowsRoutes rows_;
  rest::RestRoutes rest_;
};

}  // namespace database

ALPACA_PLUGIN(database::DatabasePlugin, "database", "0.1.0",
              "SQL endpoint and table management (management API)")
