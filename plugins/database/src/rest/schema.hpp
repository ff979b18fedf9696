#pragma once
// What /rest/v1 knows of a project's exposed schemas: relations with their columns and keys,
// foreign keys (for embedding) and functions (for RPC). Read from the catalog in one query,
// cached per schema version (see SchemaCache).
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace database::rest {

struct Column {
  std::string name, type;  // type as format_type() writes it
  bool nullable = true;
  bool has_default = false;
  bool generated = false;  // GENERATED ALWAYS (identity or stored): not insertable
};

struct Relation {
  std::string schema, name;
  char kind = 'r';  // pg_class.relkind: r p v m f
  std::vector<Column> columns;
  std::vector<std::string> primary_key;
  // Functions taking this relation's row type as their only argument: PostgREST's computed
  // fields, usable as columns (name → "schema"."function" to call on the row).
  std::map<std::string, std::string> computed;
  const Column* column(const std::string& n) const {
    for (const auto& c : columns)
      if (c.name == n) return &c;
    return nullptr;
  }
};

struct ForeignKey {
  std::string name;
  std::string schema, table;  // the referencing side
  std::vector<std::string> columns;
  std::string ref_schema, ref_table;
  std::vector<std::string> ref_columns;
};

struct FunctionArg {
  std::string name, type;
  bool has_default = false;
};

struct Function {
  std::string schema, name;
  std::vector<FunctionArg> args;  // input arguments only
  std::string return_type;
  bool returns_set = false;
  bool returns_composite = false;  // a row type (table or record): filterable like a table
  std::vector<Column> columns;     // of that row: the type's attributes or the OUT parameters
  // When that row is a table's or view's row type: embedding and computed fields of that relation
  std::string row_schema, row_relation;
  char volatility = 'v';  // i s v
};

struct Schema {
  std::map<std::pair<std::string, std::string>, Relation> relations;
  std::vector<ForeignKey> foreign_keys;
  std::multimap<std::pair<std::string, std::string>, Function> functions;

  const Relation* relation(const std::string& schema, const std::string& name) const {
    auto it = relations.find({schema, name});
    return it == relations.end() ? nullptr : &it->second;
  }
};

// Builds a Schema from the catalog query's JSON (catalog_json() below answers it).
std::shared_ptr<const Schema> parse_schema(const std::string& json);
// The catalog query; $1 = the exposed schemas as a text[] literal.
const char* catalog_query();

}  // namespace database::rest
