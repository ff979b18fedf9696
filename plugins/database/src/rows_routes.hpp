#pragma once
// /projects/:id/tables/:table/rows[/:pk]: read rows with PostgREST's query grammar (the parser
// /rest/v1 uses), insert a row, update or delete one addressed by its single-column primary key.
// Runs as the management role: RLS does not apply here.
#include <alpaca/plugin.hpp>
#include <cstdint>
#include <string>

#include "catalog_cache.hpp"

namespace database {

class Session;
struct Target;

struct RowsLimits {
  std::string statement_timeout = "30s";
  int64_t default_limit = 100;  // rows per page when the request gives no limit
  int64_t max_rows = 100000;    // a larger limit is clamped to this
};

class RowsRoutes {
 public:
  explicit RowsRoutes(RowsLimits limits) : limits_(std::move(limits)) {}
  void set_db(const alpaca_db_api* db) { db_ = db; }
  void add_to(alpaca::Host& host);

 private:
  void list(alpaca::Request& req, alpaca::Response& res);
  void insert(alpaca::Request& req, alpaca::Response& res);
  void update(alpaca::Request& req, alpaca::Response& res);
  void remove(alpaca::Request& req, alpaca::Response& res);
  std::string primary_key(Session& s, const char* project_ref, const Target& t);

  RowsLimits limits_;
  CatalogCache primary_keys_;
  const alpaca_db_api* db_ = nullptr;
};

}  // namespace database
