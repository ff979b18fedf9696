#pragma once
// Postgres type names (as format_type() prints them) and categories for result columns.
// Built-in types never change their oid, so their answers are cached for the process.
#include <libpq-fe.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace database {

struct ColumnType {
  std::string name;     // "integer", "character varying(40)", "text[]"
  char category = 'U';  // pg_type.typcategory: 'A' array, 'N' numeric, 'S' string, ...
};

class TypeNames {
 public:
  // One entry per (oid, typmod); asks Postgres (one query) for the ones not cached.
  // Throws std::runtime_error when the lookup fails.
  std::vector<ColumnType> lookup(PGconn* conn, const std::vector<std::pair<Oid, int>>& columns);

 private:
  std::mutex mutex_;
  std::map<std::pair<Oid, int>, ColumnType> cache_;
};

}  // namespace database
