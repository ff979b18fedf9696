#pragma once
// /projects/:id/tables[/:table[/columns[/:col]]]: list, create and drop tables and columns.
#include <alpaca/plugin.hpp>
#include <string>

namespace database {

class TablesRoutes {
 public:
  explicit TablesRoutes(std::string statement_timeout) : timeout_(std::move(statement_timeout)) {}
  void set_db(const alpaca_db_api* db) { db_ = db; }
  void add_to(alpaca::Host& host);

 private:
  void list_tables(alpaca::Request& req, alpaca::Response& res);
  void create_table(alpaca::Request& req, alpaca::Response& res);
  void drop_table(alpaca::Request& req, alpaca::Response& res);
  void list_columns(alpaca::Request& req, alpaca::Response& res);
  void add_column(alpaca::Request& req, alpaca::Response& res);
  void drop_column(alpaca::Request& req, alpaca::Response& res);

  std::string timeout_;
  const alpaca_db_api* db_ = nullptr;
};

}  // namespace database
