#pragma once
// POST /projects/:id/query {"sql", "params"?}: runs SQL with the project's management role
// (alpaca_admin: BYPASSRLS, not a superuser) in one transaction and answers typed JSON.
#include <alpaca/plugin.hpp>
#include <cstdint>
#include <string>

#include "type_names.hpp"

namespace database {

struct QueryLimits {
  std::string statement_timeout = "30s";  // a Postgres duration: digits + ms|s|min|h
  int64_t max_rows = 100000;
  int64_t max_bytes = 20 * 1024 * 1024;
};

class QueryRoute {
 public:
  QueryRoute(const QueryLimits& limits, TypeNames& types) : limits_(limits), types_(types) {}
  void set_db(const alpaca_db_api* db) { db_ = db; }
  void operator()(alpaca::Request& req, alpaca::Response& res);

 private:
  QueryLimits limits_;
  TypeNames& types_;
  const alpaca_db_api* db_ = nullptr;
};

// Throws std::invalid_argument unless `value` is a duration Postgres accepts for
// statement_timeout in the form we allow (e.g. 500ms, 30s, 2min).
void check_duration(const std::string& value);

}  // namespace database
