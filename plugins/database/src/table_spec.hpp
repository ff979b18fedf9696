#pragma once
// Validation of what a request may name: identifiers, schemas, types and column definitions.
// Everything that reaches DDL is either checked here, quoted by libpq, or both.
#include <Poco/JSON/Object.h>

#include <optional>
#include <string>

namespace database {
class Session;

// 400 unless 1..63 bytes without NUL (Postgres would truncate longer names silently).
void check_name(const std::string& what, const std::string& name);
// 400 for pg_catalog, information_schema, pg_toast, pg_temp*... and invalid names.
void check_user_schema(const std::string& schema);
// 400 unless `type` is a type expression Postgres knows (to_regtype) built only from words,
// one optional (n[,m]) modifier and [] suffixes: safe to place in DDL as written.
std::string checked_type(Session& s, const std::string& type);

struct ColumnSpec {
  std::string name;
  std::string type;
  bool nullable = true;
  std::optional<std::string> default_literal;  // quoted later as a literal
  bool primary_key = false;
  bool unique = false;
  std::optional<std::string> ref_schema, ref_table, ref_column, on_delete;
};

// Parses and checks one column object; throws HttpError(400) naming the field.
ColumnSpec parse_column(const Poco::JSON::Object& o, const std::string& default_schema);
// "name type [NOT NULL] [DEFAULT 'x'] [PRIMARY KEY] [UNIQUE] [REFERENCES s.t(c) ON DELETE ...]"
std::string column_ddl(Session& s, const ColumnSpec& c);

}  // namespace database
