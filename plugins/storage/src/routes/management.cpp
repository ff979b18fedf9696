// The spec's "Storage" management routes: /projects/:id/storage/buckets, as the management role
// (no RLS), answering {"error","detail"} on failure like the rest of the management API.
#include <project_tx.hpp>

#include "../bucket_spec.hpp"
#include "../json_body.hpp"
#include "routes.hpp"

namespace storage {

namespace {

using plugin_common::DbError;
using plugin_common::Tx;

const char* kBucketJson =
    "json_build_object('id', b.id, 'name', b.name, 'public', coalesce(b.public, false), "
    "'file_size_limit', b.file_size_limit, 'allowed_mime_types', b.allowed_mime_types, "
    "'created_at', b.created_at, 'updated_at', b.updated_at)";

void list(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  Tx tx(svc.db(), ref);
  auto v = tx.value((std::string("SELECT coalesce(json_agg(") + kBucketJson +
                     " ORDER BY b.name), '[]')::text FROM storage.buckets b")
                        .c_str());
  tx.commit();
  res.json(200, v.value_or("[]"));
}

void create(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  BucketSpec s = parse_bucket_spec(*json_body(req), true);
  Tx tx(svc.db(), ref);
  auto v = tx.value(
      (std::string("WITH b AS (INSERT INTO storage.buckets (id, name, public, file_size_limit, "
                   "allowed_mime_types) VALUES ($1, $2, coalesce($3::boolean, false), $4::bigint, "
                   "$5::text[]) RETURNING *) SELECT ") +
       kBucketJson + "::text FROM b")
          .c_str(),
      {s.id, s.name,
       s.is_public ? plugin_common::Param(*s.is_public ? "true" : "false") : std::nullopt,
       s.file_size_limit ? plugin_common::Param(std::to_string(*s.file_size_limit)) : std::nullopt,
       s.allowed_mime_types});
  tx.commit();
  res.json(201, v.value_or("{}"));
}

void remove(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  std::string bucket(req.param("bucket"));
  Tx tx(svc.db(), ref);
  if (!tx.value("SELECT 1 FROM storage.buckets WHERE id = $1", {bucket}))
    throw StorageError(404, "Bucket not found", "No bucket '" + bucket + "'");
  if (tx.value("SELECT 1 FROM storage.objects WHERE bucket_id = $1 LIMIT 1", {bucket}))
    throw StorageError(409, "Bucket not empty",
                       "Bucket '" + bucket + "' has objects; delete them first");
  tx.exec("DELETE FROM storage.buckets WHERE id = $1", {bucket});
  tx.commit();
  res.json(200, "{\"deleted\":\"" + alpaca::json_escape(bucket) + "\"}");
}

}  // namespace

void add_management_routes(alpaca::Host& host, Service& svc) {
  management_route(host, svc, "GET", "/buckets", list);
  management_route(host, svc, "POST", "/buckets", create);
  management_route(host, svc, "DELETE", "/buckets/:bucket", remove);
}

}  // namespace storage
