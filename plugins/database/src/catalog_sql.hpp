#pragma once
// Catalog queries answering the table API's JSON directly (Postgres builds the JSON, so types
// survive). $1 = schema, $2 = table (NULL = all), $3 = column (NULL = all).
namespace database::sql {

inline constexpr const char* kTableRows = R"sql(
SELECT c.relname AS name, n.nspname AS schema, c.relrowsecurity AS rls_enabled,
       greatest(c.reltuples, 0)::bigint AS row_estimate,
       (SELECT count(*) FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)::int AS columns,
       obj_description(c.oid, 'pg_class') AS comment
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND ($2::text IS NULL OR c.relname = $2))sql";

inline constexpr const char* kColumnRows = R"sql(
SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       NOT a.attnotnull AS nullable, pg_get_expr(d.adbin, d.adrelid) AS "default",
       a.attidentity <> '' AS is_identity,
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p'
                AND a.attnum = ANY (k.conkey)) AS is_primary_key,
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype IN ('p', 'u')
                AND k.conkey = ARRAY[a.attnum]) AS is_unique,
       (SELECT json_build_object('schema', fn.nspname, 'table', fc.relname, 'column', fa.attname,
                 'on_delete', CASE f.confdeltype WHEN 'c' THEN 'cascade' WHEN 'r' THEN 'restrict'
                   WHEN 'n' THEN 'set null' WHEN 'd' THEN 'set default' ELSE 'no action' END)
          FROM pg_constraint f
          JOIN pg_class fc ON fc.oid = f.confrelid
          JOIN pg_namespace fn ON fn.oid = fc.relnamespace
          JOIN pg_attribute fa ON fa.attrelid = f.confrelid AND fa.attnum = f.confkey[1]
         WHERE f.conrelid = c.oid AND f.contype = 'f' AND f.conkey = ARRAY[a.attnum]
         LIMIT 1) AS "references"
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
   AND ($3::text IS NULL OR a.attname = $3)
 ORDER BY a.attnum)sql";

}  // namespace database::sql
