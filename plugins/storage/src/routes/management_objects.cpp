// The spec's management routes for objects, as the management role:
//   GET    /projects/:id/storage/buckets/:bucket/objects?prefix&limit&offset
//   POST   /projects/:id/storage/buckets/:bucket/upload   (multipart: a file part and `path`)
//   DELETE /projects/:id/storage/buckets/:bucket/objects/*path
#include "../json_body.hpp"
#include "../object_key.hpp"
#include "../object_rows.hpp"
#include "../upload.hpp"
#include "routes.hpp"

namespace storage {

namespace {

int64_t query_count(alpaca::Request& req, const char* name, int64_t fallback, int64_t max) {
  const char* v = req.query(name);
  if (!v || !*v) return fallback;
  try {
    size_t used = 0;
    long long n = std::stoll(v, &used);
    if (used == std::strlen(v) && n >= 0) return std::min<int64_t>(n, max);
  } catch (const std::exception&) {
  }
  throw StorageError(400, "Invalid " + std::string(name),
                     std::string(name) + " must be a whole number >= 0");
}

void list(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  std::string bucket(req.param("bucket"));
  const char* prefix = req.query("prefix");
  int64_t limit = query_count(req, "limit", 100, 1000);
  int64_t offset = query_count(req, "offset", 0, INT32_MAX);
  bucket_limits(as_admin(svc.db(), ref), bucket);  // 404 for an unknown bucket
  auto rows = as_admin(svc.db(), ref)(
      "SELECT coalesce(json_agg(json_build_object('id', id, 'name', name, 'size', "
      "(metadata->>'size')::bigint, 'content_type', metadata->>'mimetype', 'etag', "
      "metadata->>'eTag', 'cache_control', metadata->>'cacheControl', 'metadata', user_metadata, "
      "'created_at', created_at, 'updated_at', updated_at) ORDER BY name COLLATE \"C\"), "
      "'[]')::text FROM (SELECT * FROM storage.objects WHERE bucket_id = $1 AND left(name, "
      "length($2)) = $2 ORDER BY name COLLATE \"C\" LIMIT $3::bigint OFFSET $4::bigint) o",
      {bucket, std::string(prefix ? prefix : ""), std::to_string(limit), std::to_string(offset)});
  res.json(200, rows.value_or("[]"));
}

void upload(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  std::string bucket(req.param("bucket"));
  BucketLimits limits = bucket_limits(as_admin(svc.db(), ref), bucket);
  ReceivedFile file = receive_file(svc, req, svc.blobs(ref), limits);
  std::string path = file.fields.count("path") ? file.fields["path"] : "";
  if (path.empty() && req.query("path")) path = req.query("path");
  if (path.empty())
    throw StorageError(400, "Missing path", "Send the object's name in a form field `path`");
  if (std::string why = object_name_problem(path); !why.empty())
    throw StorageError(400, "Invalid path", why);
  bool upsert = (file.fields.count("upsert") && file.fields["upsert"] == "true") ||
                (req.query("upsert") && std::string(req.query("upsert")) == "true");
  BlobRef blob = file.blob.ref();
  std::string id = write_object(svc, ref, as_admin(svc.db(), ref),
                                upsert ? WriteMode::kUpsert : WriteMode::kCreate, bucket, path,
                                file, std::nullopt);
  using alpaca::json_escape;
  res.json(201, "{\"id\":\"" + id + "\",\"bucket\":\"" + json_escape(bucket) + "\",\"path\":\"" +
                    json_escape(path) + "\",\"size\":" + std::to_string(blob.size) +
                    ",\"content_type\":\"" + json_escape(file.content_type) + "\",\"etag\":\"\\\"" +
                    blob.md5_hex + "\\\"\"}");
}

void remove(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  std::string bucket(req.param("bucket")), path(req.param("path"));
  if (std::string why = object_name_problem(path); !why.empty())
    throw StorageError(400, "Invalid path", why);
  auto version = as_admin(svc.db(), ref)(
      "DELETE FROM storage.objects WHERE bucket_id = $1 AND name = $2 RETURNING "
      "coalesce(version, '')",
      {bucket, path});
  if (!version)
    throw StorageError(404, "Object not found", "No object '" + path + "' in '" + bucket + "'");
  remove_blobs(svc, ref, {*version});
  res.json(200, "{\"deleted\":\"" + alpaca::json_escape(path) + "\"}");
}

}  // namespace

void add_management_object_routes(alpaca::Host& host, Service& svc) {
  management_route(host, svc, "GET", "/buckets/:bucket/objects", list);
  management_route(host, svc, "POST", "/buckets/:bucket/upload", upload,
                   ALPACA_ROUTE_OWN_BODY_LIMIT);
  management_route(host, svc, "DELETE", "/buckets/:bucket/objects/*path", remove);
}

}  // namespace storage
