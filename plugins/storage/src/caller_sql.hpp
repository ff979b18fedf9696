#pragma once
// One statement as the request's caller (role and JWT claims set, RLS applies), over alpaca.db's
// request_statement: one round trip, its own transaction. Postgres errors become StorageErrors.
#include <alpaca/plugin.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace storage {

using Param = std::optional<std::string>;
using Params = std::vector<Param>;

struct Row {
  bool found = false;
  bool null = false;  // that value is SQL NULL
  std::string value;  // first column of the first row ("" for NULL)
  int64_t affected = 0;
};

Row caller_statement(const alpaca_db_api* db, alpaca::Request& req, const std::string& sql,
                     const Params& params);

// Runs one statement, returns the first column of the first row (nullopt: no row or NULL).
using RunSql = std::function<std::optional<std::string>(const char* sql, const Params& params)>;
// As the request's caller (one round trip), or as the management role in its own transaction.
RunSql as_caller(const alpaca_db_api* db, alpaca::Request& req);
RunSql as_admin(const alpaca_db_api* db, const std::string& ref);

}  // namespace storage
