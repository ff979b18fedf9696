#include "table_spec.hpp"

#include <Poco/JSON/Stringifier.h>

#include <sstream>

#include "session.hpp"

namespace database {

using alpaca::HttpError;

void check_name(const std::string& what, const std::string& name) {
  if (name.empty() || name.size() > 63)
    throw HttpError(400, what + " must be 1 to 63 bytes long",
                    "'" + name.substr(0, 80) + "' has " + std::to_string(name.size()) +
                        " bytes; PostgreSQL would truncate longer names");
  if (name.find('\0') != std::string::npos)
    throw HttpError(400, what + " must not contain a NUL character");
}

void check_user_schema(const std::string& schema) {
  check_name("Schema name", schema);
  if (schema == "information_schema" || schema.rfind("pg_", 0) == 0)
    throw HttpError(400, "System schema '" + schema + "' is not available",
                    "Use public or a schema of your own");
}

std::string checked_type(Session& s, const std::string& type) {
  // Words (letters, digits, _, spaces, one dot), at most one (digits[,digits]) and [] suffixes.
  bool ok = !type.empty() && type.size() <= 100;
  int parens = 0;
  bool in_paren = false, in_bracket = false;
  for (char c : type) {
    if (!ok) break;
    if (in_paren) {
      if (c == ')')
        in_paren = false;
      else
        ok = std::isdigit(static_cast<unsigned char>(c)) || c == ',' || c == ' ';
    } else if (in_bracket) {
      if (c == ']')
        in_bracket = false;
      else
        ok = std::isdigit(static_cast<unsigned char>(c));
    } else if (c == '(') {
      in_paren = true;
      ok = ++parens == 1;
    } else if (c == '[') {
      in_bracket = true;
    } else {
      ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ' ' || c == '.';
    }
  }
  ok = ok && !in_paren && !in_bracket;
  if (!ok || !s.text("SELECT to_regtype($1)::text", {type}))
    throw HttpError(400, "Unknown type '" + type.substr(0, 100) + "'",
                    "Use a PostgreSQL type such as text, integer, bigint, numeric(10,2), "
                    "varchar(40), boolean, jsonb, uuid, timestamptz or text[]");
  return type;
}

namespace {
bool get_bool(const Poco::JSON::Object& o, const char* key, bool fallback) {
  if (!o.has(key) || o.isNull(key)) return fallback;
  auto v = o.get(key);
  if (v.type() != typeid(bool))
    throw HttpError(400, std::string("Field '") + key + "' must be a boolean");
  return v.extract<bool>();
}
std::string get_string(const Poco::JSON::Object& o, const char* key, const std::string& where) {
  if (!o.has(key) || !o.get(key).isString())
    throw HttpError(400, where + ": field '" + key + "' must be a string");
  return o.getValue<std::string>(key);
}
}  // namespace

ColumnSpec parse_column(const Poco::JSON::Object& o, const std::string& default_schema) {
  static const char* known[] = {"name",        "type",   "nullable",  "default",
                                "primary_key", "unique", "references"};
  for (const auto& [k, v] : o) {
    bool found = false;
    for (const char* n : known) found = found || k == n;
    if (!found)
      throw HttpError(400, "Unknown column field '" + k + "'",
                      "Fields: name, type, nullable, default, primary_key, unique, references");
  }
  ColumnSpec c;
  c.name = get_string(o, "name", "column");
  check_name("Column name", c.name);
  c.type = get_string(o, "type", "column '" + c.name + "'");
  c.nullable = get_bool(o, "nullable", true);
  c.primary_key = get_bool(o, "primary_key", false);
  c.unique = get_bool(o, "unique", false);
  if (o.has("default") && !o.isNull("default")) {
    auto v = o.get("default");
    if (v.isString()) {
      c.default_literal = v.extract<std::string>();
    } else if (v.type() == typeid(bool)) {
      c.default_literal = v.extract<bool>() ? "true" : "false";
    } else if (v.isNumeric()) {
      c.default_literal = v.convert<std::string>();
    } else {
      std::ostringstream s;  // objects/arrays: their JSON text (json/jsonb columns)
      Poco::JSON::Stringifier::stringify(v, s);
      c.default_literal = s.str();
    }
  }
  if (o.has("references") && !o.isNull("references")) {
    auto r = o.getObject("references");
    if (!r)
      throw HttpError(400, "Field 'references' must be an object {table, column?, on_delete?}");
    c.ref_table = get_string(*r, "table", "references");
    check_name("Referenced table", *c.ref_table);
    c.ref_schema = r->has("schema") ? get_string(*r, "schema", "references") : default_schema;
    check_user_schema(*c.ref_schema);
    c.ref_column = r->has("column") ? get_string(*r, "column", "references") : "id";
    check_name("Referenced column", *c.ref_column);
    if (r->has("on_delete")) {
      std::string od = get_string(*r, "on_delete", "references");
      for (auto& ch : od) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (od != "cascade" && od != "restrict" && od != "set null" && od != "set default" &&
          od != "no action")
        throw HttpError(400,
                        "Field 'on_delete' must be cascade, restrict, set null, set default "
                        "or no action");
      c.on_delete = od;
    }
  }
  return c;
}

std::string column_ddl(Session& s, const ColumnSpec& c) {
  std::string ddl = s.identifier(c.name) + " " + checked_type(s, c.type);
  if (!c.nullable) ddl += " NOT NULL";
  if (c.default_literal) ddl += " DEFAULT " + s.literal(*c.default_literal);
  if (c.primary_key) ddl += " PRIMARY KEY";
  if (c.unique) ddl += " UNIQUE";
  if (c.ref_table) {
    ddl += " REFERENCES " + s.identifier(*c.ref_schema) + "." + s.identifier(*c.ref_table) + " (" +
           s.identifier(*c.ref_column) + ")";
    if (c.on_delete) ddl += " ON DELETE " + *c.on_delete;  // one of five fixed phrases
  }
  return ddl;
}

}  // namespace database
