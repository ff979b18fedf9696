// Object operations on names: POST /object/move, POST /object/copy (a new blob with the same
// bytes) and DELETE /object/:bucket {prefixes}, all as the caller (RLS decides).
#include "../json_body.hpp"
#include "../object_key.hpp"
#include "../object_rows.hpp"
#include "routes.hpp"

namespace storage {

namespace {

constexpr int64_t kMaxPrefixes = 1000;

struct Transfer {
  std::string bucket, source, dest_bucket, dest;
};

Transfer transfer_of(const Poco::JSON::Object& body) {
  Transfer t;
  t.bucket = text_field(body, "bucketId");
  if (t.bucket.empty()) throw StorageError(400, "InvalidRequest", "bucketId is required");
  t.source = checked_object_name(text_field(body, "sourceKey"), "sourceKey");
  t.dest = checked_object_name(text_field(body, "destinationKey"), "destinationKey");
  t.dest_bucket = text_field(body, "destinationBucket");
  if (t.dest_bucket.empty()) t.dest_bucket = t.bucket;
  return t;
}

void move(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  Transfer t = transfer_of(*json_body(req));
  // One statement: RLS checks the row as it is (USING) and as it becomes (WITH CHECK); a taken
  // destination is a unique violation (409).
  Row r = caller_statement(svc.db(), req,
                           "UPDATE storage.objects SET bucket_id = $3, name = $4, updated_at = "
                           "now(), last_accessed_at = now() WHERE bucket_id = $1 AND name = $2 "
                           "RETURNING id",
                           {t.bucket, t.source, t.dest_bucket, t.dest});
  if (!r.found) throw object_not_found();
  res.json(200, R"({"message":"Successfully moved"})");
}

void copy(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  auto body = json_body(req);
  Transfer t = transfer_of(*body);
  bool keep_metadata = !body->has("copyMetadata") || body->isNull("copyMetadata") ||
                       body->getValue<bool>("copyMetadata");
  Param new_metadata;
  if (!keep_metadata && body->has("metadata") && !body->isNull("metadata")) {
    auto m = body->getObject("metadata");
    if (!m) throw StorageError(400, "InvalidRequest", "metadata must be an object");
    std::ostringstream out;
    m->stringify(out);
    new_metadata = out.str();
  }
  bool overwrite = upsert_requested(req);
  // The source as the caller sees it (RLS), then a new blob, then the new row as the caller.
  Row src = caller_statement(svc.db(), req,
                             "SELECT json_build_object('version', version, 'metadata', metadata, "
                             "'user_metadata', user_metadata)::text FROM storage.objects WHERE "
                             "bucket_id = $1 AND name = $2",
                             {t.bucket, t.source});
  if (!src.found) throw object_not_found();
  auto o = parse_json_object(src.value);
  std::string version = o->isNull("version") ? "" : o->getValue<std::string>("version");
  BlobStore& blobs = svc.blobs(ref);
  auto fresh = version.empty() ? std::nullopt : blobs.copy(version);
  if (!fresh) throw object_not_found();
  PendingBlob blob(blobs, BlobRef{*fresh, 0, ""});
  std::ostringstream meta, user_meta;
  if (auto m = o->getObject("metadata")) m->stringify(meta);
  if (keep_metadata && !o->isNull("user_metadata")) {
    if (auto m = o->getObject("user_metadata")) m->stringify(user_meta);
  }
  Param user =
      keep_metadata ? (user_meta.str().empty() ? Param() : Param(user_meta.str())) : new_metadata;
  std::string sql =
      "WITH old AS (SELECT version FROM storage.objects WHERE bucket_id = $1 AND name = $2), "
      "up AS (INSERT INTO storage.objects (bucket_id, name, owner, owner_id, version, metadata, "
      "user_metadata) VALUES ($1, $2, $5::uuid, $5, $3, jsonb_set(coalesce($4::jsonb, '{}'), "
      "'{lastModified}', to_jsonb(to_char(now() AT TIME ZONE 'UTC', "
      "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))), $6::jsonb)";
  sql += overwrite ? " ON CONFLICT (bucket_id, name) DO UPDATE SET version = EXCLUDED.version, "
                     "metadata = EXCLUDED.metadata, user_metadata = EXCLUDED.user_metadata, "
                     "owner = EXCLUDED.owner, owner_id = EXCLUDED.owner_id, updated_at = now()"
                   : "";
  sql +=
      " RETURNING id) SELECT json_build_object('id', (SELECT id FROM up), 'old', (SELECT version "
      "FROM old))::text";
  Row r =
      caller_statement(svc.db(), req, sql,
                       {t.dest_bucket, t.dest, *fresh,
                        meta.str().empty() ? Param() : Param(meta.str()), caller_owner(req), user});
  auto w = parse_json_object(r.value);
  if (!w || w->isNull("id")) throw object_not_found();
  blob.keep();
  if (overwrite && !w->isNull("old")) remove_blobs(svc, ref, {w->getValue<std::string>("old")});
  res.json(200, "{\"Id\":\"" + w->getValue<std::string>("id") + "\",\"Key\":\"" +
                    alpaca::json_escape(t.dest_bucket + "/" + t.dest) + "\"}");
}

// DELETE /object/:bucket {prefixes: [names]}: the objects removed, as Supabase lists them.
void remove_many(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  auto names = text_list_field(*json_body(req), "prefixes");
  if (names.empty() || static_cast<int64_t>(names.size()) > kMaxPrefixes)
    throw StorageError(400, "InvalidRequest", "prefixes must name 1 to 1000 objects");
  Row r = caller_statement(
      svc.db(), req,
      "WITH d AS (DELETE FROM storage.objects WHERE bucket_id = $1 AND name IN (SELECT "
      "json_array_elements_text($2::json)) RETURNING *) SELECT json_build_object('rows', "
      "coalesce(json_agg(json_build_object('bucket_id', bucket_id, 'name', name, 'id', id, "
      "'owner', owner, 'owner_id', owner_id, 'version', version, 'metadata', metadata, "
      "'user_metadata', user_metadata, 'created_at', created_at, 'updated_at', updated_at, "
      "'last_accessed_at', last_accessed_at)), '[]'), 'versions', coalesce(json_agg(version) "
      "FILTER (WHERE version IS NOT NULL), '[]'))::text FROM d",
      {std::string(req.param("bucket")), json_text_array(names)});
  auto o = parse_json_object(r.value);
  if (!o) throw StorageError(500, "InternalError", "Unreadable delete result");
  std::vector<std::string> versions;
  for (const auto& v : *o->getArray("versions")) versions.push_back(v.convert<std::string>());
  remove_blobs(svc, ref, versions);
  std::ostringstream rows;
  o->getArray("rows")->stringify(rows);
  res.json(200, rows.str());
}

}  // namespace

void add_object_op_routes(alpaca::Host& host, Service& svc) {
  storage_route(host, svc, "POST", "/object/move", move);
  storage_route(host, svc, "POST", "/object/copy", copy);
  storage_route(host, svc, "DELETE", "/object/:bucket", remove_many);
}

}  // namespace storage
