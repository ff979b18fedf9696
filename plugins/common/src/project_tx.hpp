#pragma once
// A transaction on a project's database as the management role (BYPASSRLS), over the host's
// alpaca.db interface: for a plugin's own bookkeeping, never for work done on a caller's behalf.
#include <alpaca/plugin.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace plugin_common {

using Param = std::optional<std::string>;  // nullopt = SQL NULL
using Params = std::vector<Param>;

struct DbError : std::runtime_error {
  DbError(const std::string& message, std::string state)
      : std::runtime_error(message), sqlstate(std::move(state)) {}
  std::string sqlstate;
};

class Tx {
 public:
  Tx(const alpaca_db_api* db, const std::string& project_ref);
  ~Tx();  // rolls back unless committed
  Tx(const Tx&) = delete;
  Tx& operator=(const Tx&) = delete;

  // The first column of the first row as text; nullopt when there is no row or it is NULL.
  std::optional<std::string> value(const char* sql, const Params& params = {});
  // Rows affected.
  int64_t exec(const char* sql, const Params& params = {});
  // Several statements, no parameters (simple query protocol, on the session's connection).
  void exec_script(const char* sql);
  void commit();

 private:
  alpaca_db_result* run(const char* sql, const Params& params);
  const alpaca_db_api* db_;
  alpaca_db_session* s_ = nullptr;
};

}  // namespace plugin_common
