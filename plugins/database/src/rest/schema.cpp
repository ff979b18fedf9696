#include "rest/schema.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "rest/quote.hpp"

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
    SELECT coalesce(json_agg(json_build_object(
      'name', k.conname, 'schema', n.nspname, 'table', c.relname,
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
     WHERE k.contype = 'f' AND n.nspname = ANY ($1::text[]) AND fn.nspname = ANY ($1::text[])),
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
  auto fks = root->getArray("fks");
  for (size_t i = 0; fks && i < fks->size(); ++i) {
    auto o = fks->getObject(static_cast<unsigned>(i));
    schema->foreign_keys.push_back(ForeignKey{
        str(o, "name"), str(o, "schema"), str(o, "table"), strings(o->getArray("columns")),
        str(o, "ref_schema"), str(o, "ref_table"), strings(o->getArray("ref_columns"))});
  }
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
