// Supabase Storage's object routes: upload (raw body or multipart form, streamed into the blob
// store, then the row), download (as the caller, or public), info, delete. Rows are written as
// the caller, so RLS on storage.objects decides; a blob becomes visible only with its committed
// row.
#include <project_tx.hpp>

#include "../json_body.hpp"
#include "../object_key.hpp"
#include "../object_rows.hpp"
#include "../send_object.hpp"
#include "../upload.hpp"
#include "routes.hpp"

namespace storage {

namespace {

std::string upload_answer(const std::string& id, const std::string& bucket,
                          const std::string& name) {
  return "{\"Id\":\"" + id + "\",\"Key\":\"" + alpaca::json_escape(bucket + "/" + name) + "\"}";
}

// POST (create; x-upsert: true to overwrite) and PUT (update) /object/:bucket/*path.
void upload(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  std::string bucket(req.param("bucket"));
  std::string name = path_object_name(req);
  WriteMode mode = req.method() == "PUT"   ? WriteMode::kUpdate
                   : upsert_requested(req) ? WriteMode::kUpsert
                                           : WriteMode::kCreate;
  BucketLimits limits = bucket_limits(as_caller(svc.db(), req), bucket);
  ReceivedFile file = receive_file(svc, req, svc.blobs(ref), limits);
  std::string id =
      write_object(svc, ref, as_caller(svc.db(), req), mode, bucket, name, file, caller_owner(req));
  res.json(200, upload_answer(id, bucket, name));
}

void download_public(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  std::string bucket(req.param("bucket")), name = path_object_name(req);
  PublicCache& cache = svc.public_cache();
  if (auto row = cache.get(ref, bucket, name)) {
    if (send_object(svc, req, res, ref, *row, std::nullopt, /*missing_ok=*/true)) return;
  }
  auto ticket = cache.ticket(ref);
  // One round trip: the function reads public buckets only, whoever calls.
  Row r = caller_statement(svc.db(), req, "SELECT storage.alpaca_public_object($1, $2)::text",
                           {bucket, name});
  if (!r.found || r.null) throw object_not_found();
  cache.put(ref, bucket, name, r.value, ticket);
  send_object(svc, req, res, ref, r.value);
}

void download(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  Row r = caller_statement(svc.db(), req,
                           "SELECT json_build_object('version', version, 'metadata', metadata, "
                           "'name', name)::text FROM storage.objects WHERE bucket_id = $1 AND "
                           "name = $2",
                           {std::string(req.param("bucket")), path_object_name(req)});
  if (!r.found) return download_public(svc, req, res);  // public buckets need no policy
  send_object(svc, req, res, ref, r.value);
}

// GET /object/info/:bucket/*path: Supabase's object info (supabase-js camel-cases it).
constexpr const char* kInfoSql =
    "SELECT json_build_object('id', o.id, 'name', o.name, 'version', o.version, 'bucket_id', "
    "o.bucket_id, 'size', (o.metadata->>'size')::bigint, 'content_type', "
    "o.metadata->>'mimetype', 'cache_control', o.metadata->>'cacheControl', 'etag', "
    "o.metadata->>'eTag', 'metadata', o.user_metadata, 'last_modified', o.updated_at, "
    "'created_at', o.created_at)::text FROM storage.objects o";

void info_public(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  auto row = as_admin(svc.db(), ref)(
      (std::string(kInfoSql) +
       " JOIN storage.buckets b ON b.id = o.bucket_id WHERE b.public AND o.bucket_id = $1 AND "
       "o.name = $2")
          .c_str(),
      {std::string(req.param("bucket")), path_object_name(req)});
  if (!row) throw object_not_found();
  res.json(200, *row);
}

void info(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  svc.ensure_schema(req.project()->ref);
  Row r = caller_statement(svc.db(), req,
                           std::string(kInfoSql) + " WHERE o.bucket_id = $1 AND o.name = $2",
                           {std::string(req.param("bucket")), path_object_name(req)});
  if (!r.found) return info_public(svc, req, res);  // public buckets need no policy
  res.json(200, r.value);
}

void remove(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  Row r = caller_statement(svc.db(), req,
                           "DELETE FROM storage.objects WHERE bucket_id = $1 AND name = $2 "
                           "RETURNING coalesce(version, '')",
                           {std::string(req.param("bucket")), path_object_name(req)});
  if (!r.found) throw object_not_found();
  remove_blobs(svc, ref, {r.value});
  res.json(200, R"({"message":"Successfully deleted"})");
}

}  // namespace

void add_object_routes(alpaca::Host& host, Service& svc) {
  storage_route(host, svc, "POST", "/object/:bucket/*path", upload, ALPACA_ROUTE_OWN_BODY_LIMIT);
  storage_route(host, svc, "PUT", "/object/:bucket/*path", upload, ALPACA_ROUTE_OWN_BODY_LIMIT);
  for (const char* method : {"GET", "HEAD"}) {
    storage_route(host, svc, method, "/object/:bucket/*path", download);
    storage_route(host, svc, method, "/object/authenticated/:bucket/*path", download);
    storage_route(host, svc, method, "/object/public/:bucket/*path", download_public,
                  ALPACA_ROUTE_ANONYMOUS);
  }
  storage_route(host, svc, "GET", "/object/info/:bucket/*path", info);
  storage_route(host, svc, "GET", "/object/info/authenticated/:bucket/*path", info);
  storage_route(host, svc, "GET", "/object/info/public/:bucket/*path", info_public,
                ALPACA_ROUTE_ANONYMOUS);
  storage_route(host, svc, "DELETE", "/object/:bucket/*path", remove);
}

}  // namespace storage
