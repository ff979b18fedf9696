#include "rest/schema.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "rest/quote.hpp"
#include "rest/view_keys.hpp"

namespace database::rest {

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

std::vector<std::string> strings(const Array::Ptr& a) {
  std::vector<std::string> out;
  if (!a) return out;
  for (size_t i = 0; i < a->size(); ++i) out.push_back(a->getElement<std::string>(i));
  return out;
}

std::string str(const Object::Ptr& o, const char* key) {
  return o->has(key) && !o->isNull(key) ? o->getValue<std::string>(key) : "";
}

std::vector<int> ints(const Array::Ptr& a) {
  std::vector<int> out;
  for (size_t i = 0; a && i < a->size(); ++i) out.push_back(a->getElement<int>(i));
  return out;
}

uint32_t oid(const Object::Ptr& o, const char* key) {
  return static_cast<uint32_t>(o->getValue<int64_t>(key));
}

}  // namespace

const char* catalog_query() {
  return R"sql(
SELECT json_build_object(
  'relations', (
    SELECT coalesce(json_agg(json_build_object(
      'schema', n.nspname, 'name', c.relname, 'kind', c.relkind,
      'columns', (
        SELECT coalesce(json_agg(json_build_object(
                 'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                 'nullable', NOT a.attnotnull,
                 'has_default', d.adbin IS NOT NULL OR a.attidentity <> '',
                 'generated', a.attgenerated <> '' OR a.attidentity = 'a') ORDER BY a.attnum), '[]')
          FROM pg_attribute a
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
      'pk', (
        SELECT coalesce(json_agg(a.attname ORDER BY array_position(k.conkey, a.attnum)), '[]')
          FROM pg_constraint k
          JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
         WHERE k.conrelid = c.oid AND k.contype = 'p'))), '[]')
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')),
  'fks', (
    -- every foreign key outside the system schemas: a view in an exposed schema may pass through
    -- the columns of a table that is not exposed (see 'views').
    SELECT coalesce(json_agg(json_build_object(
      'name', k.conname, 'schema', n.nspname, 'table', c.relname, 'oid', k.conrelid::int8,
      'keys', k.conkey, 'ref_oid', k.confrelid::int8, 'ref_keys', k.confkey,
      'columns', (SELECT json_agg(a.attname ORDER BY u.i)
                    FROM unnest(k.conkey) WITH ORDINALITY u(attnum, i)
                    JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum),
      'ref_schema', fn.nspname, 'ref_table', fc.relname,
      'ref_columns', (SELECT json_agg(a.attname ORDER BY u.i)
                        FROM unnest(k.confkey) WITH ORDINALITY u(attnum, i)
                        JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum))),
      '[]')
      FROM pg_constraint k
      JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_class fc ON fc.oid = k.confrelid JOIN pg_namespace fn ON fn.oid = fc.relnamespace
     WHERE k.contype = 'f' AND n.nspname NOT IN ('pg_catalog', 'information_schema')),
  'views', (
    -- views and their stored query trees, to follow their columns to the base tables
    SELECT coalesce(json_agg(json_build_object(
      'oid', c.oid::int8, 'schema', n.nspname, 'name', c.relname, 'tree', r.ev_action::text,
      'columns', (SELECT json_object_agg(a.attnum, a.attname) FROM pg_attribute a
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped))), '[]')
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_rewrite r ON r.ev_class = c.oid AND r.rulename = '_RETURN'
     WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')),
  'functions', (
    SELECT coalesce(json_agg(json_build_object(
      'schema', n.nspname, 'name', p.proname,
      'args', (
        SELECT coalesce(json_agg(json_build_object(
                 'name', coalesce(p.proargnames[i], ''),
                 'type', format_type(coalesce(p.proallargtypes[i], p.proargtypes[i - 1]), NULL),
                 'has_default', i > p.pronargs - p.pronargdefaults) ORDER BY i), '[]')
          FROM generate_series(1, coalesce(array_length(p.proallargtypes, 1), p.pronargs)) i
         WHERE coalesce(p.proargmodes[i], 'i') IN ('i', 'b', 'v')),
      'returns', format_type(p.prorettype, NULL), 'returns_set', p.proretset,
      'columns', CASE WHEN t.typtype = 'c' THEN (
          SELECT coalesce(json_agg(json_build_object('name', a.attname,
                   'type', format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum), '[]')
            FROM pg_attribute a
           WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)
        ELSE (
          SELECT coalesce(json_agg(json_build_object('name', p.proargnames[i],
                   'type', format_type(p.proallargtypes[i], NULL)) ORDER BY i), '[]')
            FROM generate_series(1, coalesce(array_length(p.proallargtypes, 1), 0)) i
           WHERE p.proargmodes[i] IN ('o', 'b', 't')) END,
      'returns_composite', t.typtype = 'c' OR p.prorettype = 'record'::regtype,
      'row_of', (SELECT json_build_array(rn.nspname, rc.relname) FROM pg_class rc
                   JOIN pg_namespace rn ON rn.oid = rc.relnamespace
                  WHERE rc.oid = t.typrelid AND rc.relkind IN ('r', 'p', 'v', 'm', 'f')),
      'volatility', p.provolatile)), '[]')
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      JOIN pg_type t ON t.oid = p.prorettype
     WHERE n.nspname = ANY ($1::text[]) AND p.prokind = 'f'))::text)sql";
}

std::shared_ptr<const Schema> parse_schema(const std::string& json) {
  auto root = Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
  auto schema = std::make_shared<Schema>();
  auto rels = root->getArray("relations");
  for (size_t i = 0; rels && i < rels->size(); ++i) {
    auto o = rels->getObject(static_cast<unsigned>(i));
    Relation r;
    r.schema = str(o, "schema");
    r.name = str(o, "name");
    std::string kind = str(o, "kind");
    r.kind = kind.empty() ? 'r' : kind[0];
    auto cols = o->getArray("columns");
    for (size_t j = 0; cols && j < cols->size(); ++j) {
      auto c = cols->getObject(static_cast<unsigned>(j));
      r.columns.push_back(Column{str(c, "name"), str(c, "type"), c->getValue<bool>("nullable"),
                                 c->getValue<bool>("has_default"), c->getValue<bool>("generated")});
    }
    r.primary_key = strings(o->getArray("pk"));
    schema->relations.emplace(std::make_pair(r.schema, r.name), std::move(r));
  }
  std::vector<TableKey> keys;
  auto fks = root->getArray("fks");
  for (size_t i = 0; fks && i < fks->size(); ++i) {
    auto o = fks->getObject(static_cast<unsigned>(i));
    keys.push_back(TableKey{ForeignKey{str(o, "name"), str(o, "schema"), str(o, "table"),
                                       strings(o->getArray("columns")), str(o, "ref_schema"),
                                       str(o, "ref_table"), strings(o->getArray("ref_columns"))},
                            oid(o, "oid"), oid(o, "ref_oid"), ints(o->getArray("keys")),
                            ints(o->getArray("ref_keys"))});
  }
  std::vector<View> views;
  auto vs = root->getArray("views");
  for (size_t i = 0; vs && i < vs->size(); ++i) {
    auto o = vs->getObject(static_cast<unsigned>(i));
    View v{oid(o, "oid"), str(o, "schema"), str(o, "name"), {}, str(o, "tree")};
    if (auto cols = o->getObject("columns"))
      for (const auto& [num, name] : *cols) v.columns[std::stoi(num)] = name.toString();
    views.push_back(std::move(v));
  }
  // Only keys between exposed relations can be embedded along.
  for (auto& fk : with_view_keys(keys, views))
    if (schema->relation(fk.schema, fk.table) && schema->relation(fk.ref_schema, fk.ref_table))
      schema->foreign_keys.push_back(std::move(fk));
  auto fns = root->getArray("functions");
  for (size_t i = 0; fns && i < fns->size(); ++i) {
    auto o = fns->getObject(static_cast<unsigned>(i));
    Function f;
    f.schema = str(o, "schema");
    f.name = str(o, "name");
    auto args = o->getArray("args");
    for (size_t j = 0; args && j < args->size(); ++j) {
      auto a = args->getObject(static_cast<unsigned>(j));
      f.args.push_back(
          FunctionArg{str(a, "name"), str(a, "type"), a->getValue<bool>("has_default")});
    }
    f.return_type = str(o, "returns");
    f.returns_set = o->getValue<bool>("returns_set");
    f.returns_composite = o->getValue<bool>("returns_composite");
    if (auto row = strings(o->getArray("row_of")); row.size() == 2) {
      f.row_schema = row[0];
      f.row_relation = row[1];
    }
    auto cols = o->getArray("columns");
    for (size_t j = 0; cols && j < cols->size(); ++j) {
      auto c = cols->getObject(static_cast<unsigned>(j));
      f.columns.push_back(Column{str(c, "name"), str(c, "type"), true, false, false});
    }
    std::string v = str(o, "volatility");
    f.volatility = v.empty() ? 'v' : v[0];
    schema->functions.emplace(std::make_pair(f.schema, f.name), std::move(f));
  }
  // Computed fields: a one-argument function whose argument is a relation's row type.
  for (const auto& [key, f] : schema->functions) {
    if (f.args.size() != 1 || f.returns_set) continue;
    std::string type = f.args[0].type;
    for (auto& [rkey, rel] : schema->relations) {
      if (type == rel.name || type == rel.schema + "." + rel.name || type == "\"" + rel.name + "\"")
        rel.computed.emplace(f.name, quote_ident(f.schema) + "." + quote_ident(f.name));
    }
  }
  return schema;
}

}  // namespace database::rest
