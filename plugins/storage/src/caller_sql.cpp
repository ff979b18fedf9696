#include "caller_sql.hpp"

#include <project_tx.hpp>

#include "errors.hpp"

namespace storage {

Row caller_statement(const alpaca_db_api* db, alpaca::Request& req, const std::string& sql,
                     const Params& params) {
  std::vector<const char*> p;
  p.reserve(params.size());
  for (const auto& v : params) p.push_back(v ? v->c_str() : nullptr);
  alpaca_db_result* r = nullptr;
  alpaca_status st = db->request_statement(req.raw(), nullptr, sql.c_str(),
                                           static_cast<int>(p.size()), p.data(), &r);
  if (!r) throw StorageError(503, "DatabaseError", "No database connection could be had");
  if (st != ALPACA_OK) {
    const alpaca_db_error* e = db->result_error(r);
    std::string state = e && e->sqlstate ? e->sqlstate : "";
    std::string message = e && e->message ? e->message : "database error";
    db->result_free(r);
    throw from_sqlstate(state, message);
  }
  Row row;
  row.affected = db->result_affected(r);
  if (db->result_rows(r) > 0 && db->result_columns(r) > 0) {
    row.found = true;
    const char* v = db->result_value(r, 0, 0);
    row.null = v == nullptr;
    row.value = v ? v : "";
  }
  db->result_free(r);
  return row;
}

RunSql as_caller(const alpaca_db_api* db, alpaca::Request& req) {
  return [db, &req](const char* sql, const Params& params) -> std::optional<std::string> {
    Row r = caller_statement(db, req, sql, params);
    if (!r.found || r.null) return std::nullopt;
    return r.value;
  };
}

RunSql as_admin(const alpaca_db_api* db, const std::string& ref) {
  return [db, ref](const char* sql, const Params& params) {
    plugin_common::Tx tx(db, ref);
    auto v = tx.value(sql, params);
    tx.commit();
    return v;
  };
}

}  // namespace storage
