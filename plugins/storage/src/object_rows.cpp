#include "object_rows.hpp"

#include <project_tx.hpp>

#include "errors.hpp"
#include "json_body.hpp"

namespace storage {

Param caller_owner(alpaca::Request& req) {
  const alpaca_caller& c = req.caller();
  if (c.kind == ALPACA_CALLER_PROJECT_JWT && c.subject && c.role && std::string(c.role) != "anon" &&
      std::string(c.role) != "service_role")
    return std::string(c.subject);
  return std::nullopt;
}

std::string write_object(Service& svc, const std::string& ref, const RunSql& run, WriteMode mode,
                         const std::string& bucket, const std::string& name, ReceivedFile& file,
                         const Param& owner) {
  const char* sql =
      mode == WriteMode::kUpdate
          ? "WITH old AS (SELECT id, version FROM storage.objects WHERE bucket_id = $1 AND "
            "name = $2 FOR UPDATE), up AS (UPDATE storage.objects o SET version = $3, "
            "metadata = $4::jsonb, user_metadata = coalesce($6::jsonb, o.user_metadata), "
            "owner = coalesce($5::uuid, o.owner), owner_id = coalesce($5::text, o.owner_id), "
            "updated_at = now(), last_accessed_at = now() FROM old WHERE o.id = old.id "
            "RETURNING o.id) SELECT json_build_object('id', (SELECT id FROM up), 'old', "
            "(SELECT version FROM old))::text"
      : mode == WriteMode::kUpsert
          ? "WITH old AS (SELECT version FROM storage.objects WHERE bucket_id = $1 AND "
            "name = $2), up AS (INSERT INTO storage.objects (bucket_id, name, owner, "
            "owner_id, version, metadata, user_metadata) VALUES ($1, $2, $5::uuid, $5, $3, "
            "$4::jsonb, $6::jsonb) ON CONFLICT (bucket_id, name) DO UPDATE SET version = "
            "EXCLUDED.version, metadata = EXCLUDED.metadata, user_metadata = "
            "coalesce(EXCLUDED.user_metadata, storage.objects.user_metadata), owner = "
            "EXCLUDED.owner, owner_id = EXCLUDED.owner_id, updated_at = now(), "
            "last_accessed_at = now() RETURNING id) SELECT json_build_object('id', (SELECT "
            "id FROM up), 'old', (SELECT version FROM old))::text"
          : "WITH up AS (INSERT INTO storage.objects (bucket_id, name, owner, owner_id, "
            "version, metadata, user_metadata) VALUES ($1, $2, $5::uuid, $5, $3, $4::jsonb, "
            "$6::jsonb) RETURNING id) SELECT json_build_object('id', (SELECT id FROM up), "
            "'old', NULL)::text";
  const BlobRef& blob = file.blob.ref();
  auto row = run(
      sql, {bucket, name, blob.key, object_metadata(blob, file.content_type, file.cache_control),
            owner, file.user_metadata});
  auto o = row ? parse_json_object(*row) : nullptr;
  if (!o || o->isNull("id")) throw object_not_found();
  file.blob.keep();
  if (!o->isNull("old")) {
    std::string old = o->getValue<std::string>("old");
    if (!old.empty() && old != blob.key) remove_blobs(svc, ref, {old});
  }
  return o->getValue<std::string>("id");
}

void remove_blobs(Service& svc, const std::string& ref, const std::vector<std::string>& keys) {
  for (const auto& key : keys) {
    try {
      if (!key.empty()) svc.blobs(ref).remove(key);
    } catch (const std::exception&) {  // the sweeper removes what is left
    }
  }
}

}  // namespace storage
