// Supabase Storage's bucket routes at /storage/v1/bucket, run as the caller (RLS on
// storage.buckets decides, as in Supabase: without a policy only service_role may act).
#include <Poco/JSON/Parser.h>

#include "../bucket_spec.hpp"
#include "../caller_sql.hpp"
#include "../errors.hpp"
#include "../json_body.hpp"
#include "../object_rows.hpp"
#include "routes.hpp"

namespace storage {

namespace {

const char* kBucketJson =
    "json_build_object('id', b.id, 'name', b.name, 'owner', coalesce(b.owner::text, ''), "
    "'public', coalesce(b.public, false), 'file_size_limit', b.file_size_limit, "
    "'allowed_mime_types', b.allowed_mime_types, 'created_at', b.created_at, 'updated_at', "
    "b.updated_at)";

Param owner_of(alpaca::Request& req) {
  const alpaca_caller& c = req.caller();
  if (c.kind == ALPACA_CALLER_PROJECT_JWT && c.role && std::string(c.role) == "authenticated" &&
      c.subject)
    return std::string(c.subject);
  return std::nullopt;
}

void list(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  svc.ensure_schema(req.project()->ref);
  Row r = caller_statement(svc.db(), req,
                           std::string("SELECT coalesce(json_agg(") + kBucketJson +
                               " ORDER BY b.name), '[]')::text FROM storage.buckets b",
                           {});
  res.json(200, r.value);
}

void get(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  svc.ensure_schema(req.project()->ref);
  Row r = caller_statement(
      svc.db(), req,
      std::string("SELECT ") + kBucketJson + "::text FROM storage.buckets b WHERE b.id = $1",
      {std::string(req.param("id"))});
  if (!r.found) throw StorageError(404, "Bucket not found", "Bucket not found");
  res.json(200, r.value);
}

void create(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  svc.ensure_schema(req.project()->ref);
  BucketSpec s = parse_bucket_spec(*json_body(req), true);
  caller_statement(svc.db(), req,
                   "INSERT INTO storage.buckets (id, name, owner, owner_id, public, "
                   "file_size_limit, allowed_mime_types) VALUES ($1, $2, $3::uuid, $3, "
                   "coalesce($4::boolean, false), $5::bigint, $6::text[])",
                   {s.id, s.name, owner_of(req),
                    s.is_public ? Param(*s.is_public ? "true" : "false") : std::nullopt,
                    s.file_size_limit ? Param(std::to_string(*s.file_size_limit)) : std::nullopt,
                    s.allowed_mime_types});
  res.json(200, "{\"name\":\"" + alpaca::json_escape(s.id) + "\"}");
}

void update(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  svc.ensure_schema(req.project()->ref);
  BucketSpec s = parse_bucket_spec(*json_body(req), false);
  Row r = caller_statement(
      svc.db(), req,
      "UPDATE storage.buckets SET public = coalesce($2::boolean, public), "
      "file_size_limit = CASE WHEN $3::boolean THEN $4::bigint ELSE file_size_limit END, "
      "allowed_mime_types = CASE WHEN $5::boolean THEN $6::text[] ELSE allowed_mime_types END, "
      "updated_at = now() WHERE id = $1 RETURNING id",
      {std::string(req.param("id")),
       s.is_public ? Param(*s.is_public ? "true" : "false") : std::nullopt,
       s.has_size_limit ? "true" : "false",
       s.file_size_limit ? Param(std::to_string(*s.file_size_limit)) : std::nullopt,
       s.has_mime_types ? "true" : "false", s.allowed_mime_types});
  if (!r.found) throw StorageError(404, "Bucket not found", "Bucket not found");
  res.json(200, R"({"message":"Successfully updated"})");
}

void remove(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  svc.ensure_schema(req.project()->ref);
  // Not empty → 409, as Supabase; the objects' blobs are only ever removed with their rows.
  Row r = caller_statement(
      svc.db(), req,
      "WITH target AS (SELECT id FROM storage.buckets WHERE id = $1), "
      "busy AS (SELECT EXISTS (SELECT 1 FROM storage.objects WHERE bucket_id = $1) AS yes), "
      "gone AS (DELETE FROM storage.buckets WHERE id = $1 AND NOT (SELECT yes FROM busy) "
      "RETURNING id) "
      "SELECT json_build_object('found', EXISTS (SELECT 1 FROM target), 'busy', "
      "(SELECT yes FROM busy), 'deleted', EXISTS (SELECT 1 FROM gone))::text",
      {std::string(req.param("id"))});
  Poco::JSON::Parser p;
  auto o = p.parse(r.value).extract<Poco::JSON::Object::Ptr>();
  if (!o->getValue<bool>("found")) throw StorageError(404, "Bucket not found", "Bucket not found");
  if (o->getValue<bool>("busy"))
    throw StorageError(409, "InvalidRequest", "The bucket you tried to delete is not empty");
  if (!o->getValue<bool>("deleted"))
    throw StorageError(403, "Unauthorized", "You may not delete this bucket");
  res.json(200, R"({"message":"Successfully deleted"})");
}

// POST /bucket/:id/empty: removes every object the caller may delete (RLS), then their blobs.
void empty(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  Row r = caller_statement(
      svc.db(), req,
      "WITH b AS (SELECT id FROM storage.buckets WHERE id = $1), d AS (DELETE FROM "
      "storage.objects o USING b WHERE o.bucket_id = b.id RETURNING o.version) SELECT "
      "json_build_object('bucket', (SELECT count(*) FROM b), 'versions', (SELECT "
      "coalesce(json_agg(version) FILTER (WHERE version IS NOT NULL), '[]') FROM d))::text",
      {std::string(req.param("id"))});
  auto o = parse_json_object(r.value);
  if (!o) throw StorageError(500, "InternalError", "Unreadable result");
  if (o->getValue<int64_t>("bucket") == 0)
    throw StorageError(404, "Bucket not found", "Bucket not found");
  std::vector<std::string> versions;
  for (const auto& v : *o->getArray("versions")) versions.push_back(v.convert<std::string>());
  remove_blobs(svc, ref, versions);
  res.json(200, R"({"message":"Successfully emptied"})");
}

}  // namespace

void add_bucket_routes(alpaca::Host& host, Service& svc) {
  storage_route(host, svc, "GET", "/bucket", list);
  storage_route(host, svc, "GET", "/bucket/:id", get);
  storage_route(host, svc, "POST", "/bucket", create);
  storage_route(host, svc, "PUT", "/bucket/:id", update);
  storage_route(host, svc, "DELETE", "/bucket/:id", remove);
  storage_route(host, svc, "POST", "/bucket/:id/empty", empty);
}

}  // namespace storage
