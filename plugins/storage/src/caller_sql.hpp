#pragma once
// One statement as the request's caller (role and JWT claims set, RLS applies), over alpaca.db's
// request_statement: one round trip, its own transaction. Postgres errors become StorageErrors.
#include <alpaca/plugin.hpp>
#include <optional>
#include <string>
#include <vector>

namespace storage {

using Param = std::optional<std::string>;
using Params = std::vector<Param>;

struct Row {
  bool found = false;
  std::string value;  // first column of the first row ("" for NULL)
  int64_t affected = 0;
};

Row caller_statement(const alpaca_db_api* db, alpaca::Request& req, const std::string& sql,
                     const Params& params);

}  // namespace storage
