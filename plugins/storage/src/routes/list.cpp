// POST /object/list/:bucket {prefix, limit, offset, sortBy: {column, order}, search}: one level
// of the bucket's tree as Supabase answers it: files with their metadata, folders with id null.
// Run as the caller, so RLS decides which objects (and so which folders) show.
#include <Poco/JSON/Parser.h>

#include "../caller_sql.hpp"
#include "../json_body.hpp"
#include "routes.hpp"

namespace storage {

namespace {

void list(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  svc.ensure_schema(req.project()->ref);
  Poco::JSON::Object::Ptr body = json_body(req);
  std::string prefix = text_field(*body, "prefix");
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
  if (!prefix.empty() && prefix.back() != '/') prefix += '/';
  int64_t limit = count_field(*body, "limit", 100, 1000);
  int64_t offset = count_field(*body, "offset", 0, INT32_MAX);
  std::string search = text_field(*body, "search");
  // The sort is chosen from a fixed list: no caller text reaches the SQL.
  std::string column = "name", order = "asc";
  if (auto sort = body->getObject("sortBy")) {
    column = text_field(*sort, "column").empty() ? "name" : text_field(*sort, "column");
    order = text_field(*sort, "order").empty() ? "asc" : text_field(*sort, "order");
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
