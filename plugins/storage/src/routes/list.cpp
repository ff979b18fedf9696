// POST /object/list/:bucket {prefix, limit, offset, sortBy: {column, order}, search}: one level
// of the bucket's tree as Supabase answers it: files with their metadata, folders with id null.
// Run as the caller, so RLS decides which objects (and so which folders) show.
#include <Poco/JSON/Parser.h>

#include "../caller_sql.hpp"
#include "routes.hpp"

namespace storage {

namespace {

int64_t number(const Poco::JSON::Object& o, const char* key, int64_t fallback, int64_t max) {
  if (!o.has(key) || o.isNull(key)) return fallback;
  auto v = o.get(key);
  if (!v.isInteger() || v.convert<int64_t>() < 0)
    throw StorageError(400, "InvalidRequest", std::string(key) + " must be a whole number >= 0");
  return std::min(v.convert<int64_t>(), max);
}

std::string text(const Poco::JSON::Object& o, const char* key) {
  if (!o.has(key) || o.isNull(key)) return {};
  auto v = o.get(key);
  if (!v.isString())
    throw StorageError(400, "InvalidRequest", std::string(key) + " must be a string");
  return v.extract<std::string>();
}

void list(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  svc.ensure_schema(req.project()->ref);
  Poco::JSON::Object::Ptr body;
  try {
    Poco::JSON::Parser p;
    std::string raw = req.body();
    body = raw.find_first_not_of(" \t\r\n") == std::string::npos
               ? Poco::JSON::Object::Ptr(new Poco::JSON::Object)
               : p.parse(raw).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {
    throw StorageError(400, "InvalidJSON", "The request body must be a JSON object");
  }
  std::string prefix = text(*body, "prefix");
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
  if (!prefix.empty() && prefix.back() != '/') prefix += '/';
  int64_t limit = number(*body, "limit", 100, 1000);
  int64_t offset = number(*body, "offset", 0, INT32_MAX);
  std::string search = text(*body, "search");
  // The sort is chosen from a fixed list: no caller text reaches the SQL.
  std::string column = "name", order = "asc";
  if (auto sort = body->getObject("sortBy")) {
    column = text(*sort, "column").empty() ? "name" : text(*sort, "column");
    order = text(*sort, "order").empty() ? "asc" : text(*sort, "order");
  }
  if (column != "name" && column != "updated_at" && column != "created_at" &&
      column != "last_accessed_at")
    throw StorageError(400, "InvalidRequest",
                       "sortBy.column must be name, updated_at, created_at or last_accessed_at");
  if (order != "asc" && order != "desc")
    throw StorageError(400, "InvalidRequest", "sortBy.order must be asc or desc");
  std::string by = column == "name" ? "entry COLLATE \"C\"" : column;
  std::string sort = by + " " + order + " NULLS LAST, entry COLLATE \"C\"";
  std::string sql =
      "WITH level AS (SELECT split_part(substr(o.name, char_length($2) + 1), '/', 1) AS entry, "
      "strpos(substr(o.name, char_length($2) + 1), '/') > 0 AS folder, o.id, o.updated_at, "
      "o.created_at, o.last_accessed_at, o.metadata FROM storage.objects o WHERE o.bucket_id = $1 "
      "AND left(o.name, char_length($2)) = $2), "
      "entries AS (SELECT DISTINCT ON (entry, folder) entry, folder, "
      "CASE WHEN folder THEN NULL ELSE id END AS id, "
      "CASE WHEN folder THEN NULL ELSE updated_at END AS updated_at, "
      "CASE WHEN folder THEN NULL ELSE created_at END AS created_at, "
      "CASE WHEN folder THEN NULL ELSE last_accessed_at END AS last_accessed_at, "
      "CASE WHEN folder THEN NULL ELSE metadata END AS metadata FROM level "
      "WHERE entry <> '' AND ($3 = '' OR strpos(lower(entry), lower($3)) = 1) "
      "ORDER BY entry, folder) "
      "SELECT coalesce(json_agg(json_build_object('name', entry, 'id', id, 'updated_at', "
      "updated_at, 'created_at', created_at, 'last_accessed_at', last_accessed_at, 'metadata', "
      "metadata) ORDER BY " +
      sort + "), '[]')::text FROM (SELECT * FROM entries ORDER BY " + sort +
      " LIMIT $4::bigint OFFSET $5::bigint) e";
  Row r = caller_statement(svc.db(), req, sql,
                           {std::string(req.param("bucket")), prefix, search, std::to_string(limit),
                            std::to_string(offset)});
  res.json(200, r.value);
}

}  // namespace

void add_list_routes(alpaca::Host& host, Service& svc) {
  storage_route(host, svc, "POST", "/object/list/:bucket", list);
}

}  // namespace storage
