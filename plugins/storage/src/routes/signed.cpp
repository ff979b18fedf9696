// Signed URLs: POST /object/sign/:bucket/*path {expiresIn} → {signedURL}, the batch form
// POST /object/sign/:bucket {expiresIn, paths}, and GET /object/sign/:bucket/*path?token= (no key
// needed: the token is the permission). Signed uploads: POST /object/upload/sign/:bucket/*path →
// {url, token}, then PUT /object/upload/sign/:bucket/*path?token= with the bytes.
#include <Poco/JSON/Parser.h>

#include <set>

#include "../json_body.hpp"
#include "../object_key.hpp"
#include "../object_rows.hpp"
#include "../send_object.hpp"
#include "../upload.hpp"
#include "../url_token.hpp"
#include "routes.hpp"

namespace storage {

namespace {

constexpr int64_t kUploadTokenSeconds = 2 * 60 * 60;  // Supabase: signed upload URLs last 2 h
constexpr int64_t kMaxExpiresIn = 10LL * 365 * 24 * 60 * 60;
constexpr size_t kMaxBatch = 1000;

int64_t expires_in(const Poco::JSON::Object& body) {
  if (!body.has("expiresIn") || !body.get("expiresIn").isNumeric() ||
      body.getValue<double>("expiresIn") < 1)
    throw StorageError(400, "InvalidRequest", "expiresIn must be a number of seconds >= 1");
  return std::min<int64_t>(static_cast<int64_t>(body.getValue<double>("expiresIn")), kMaxExpiresIn);
}

std::string signed_path(Service& svc, const std::string& ref, const std::string& url,
                        int64_t seconds) {
  Poco::JSON::Object claims;
  claims.set("url", url);
  return "/object/sign/" + url + "?token=" + make_url_token(svc, ref, claims, seconds);
}

void sign_one(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  int64_t seconds = expires_in(*json_body(req));
  std::string bucket(req.param("bucket")), name = path_object_name(req);
  // Only what the caller may read can be signed (RLS).
  Row r = caller_statement(svc.db(), req,
                           "SELECT id FROM storage.objects WHERE bucket_id = $1 AND name = $2",
                           {bucket, name});
  if (!r.found) throw object_not_found();
  std::string url = signed_path(svc, ref, bucket + "/" + name, seconds);
  res.json(200, "{\"signedURL\":\"" + alpaca::json_escape(url) + "\"}");
}

void sign_many(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  auto body = json_body(req);
  int64_t seconds = expires_in(*body);
  auto paths = text_list_field(*body, "paths");
  if (paths.size() > kMaxBatch)
    throw StorageError(400, "InvalidRequest", "paths may name at most 1000 objects");
  std::string bucket(req.param("bucket"));
  Row r = caller_statement(svc.db(), req,
                           "SELECT coalesce(json_agg(name), '[]')::text FROM storage.objects "
                           "WHERE bucket_id = $1 AND name IN (SELECT "
                           "json_array_elements_text($2::json))",
                           {bucket, json_text_array(paths)});
  std::set<std::string> found;
  Poco::JSON::Parser p;
  for (const auto& v : *p.parse(r.value.empty() ? "[]" : r.value).extract<Poco::JSON::Array::Ptr>())
    found.insert(v.convert<std::string>());
  std::string out = "[";
  for (const auto& path : paths) {
    if (out.size() > 1) out += ',';
    bool ok = found.count(path) > 0;
    out += "{\"error\":";
    out += ok ? "null" : "\"Either the object does not exist or you do not have access to it\"";
    out += ",\"path\":\"" + alpaca::json_escape(path) + "\",\"signedURL\":";
    if (ok) {
      out += '"';
      out += alpaca::json_escape(signed_path(svc, ref, bucket + "/" + path, seconds));
      out += "\"}";
    } else {
      out += "null}";
    }
  }
  out += ']';
  res.json(200, out);
}

std::string token_param(alpaca::Request& req) {
  const char* t = req.query("token");
  return t ? std::string(t) : std::string();
}

void get_signed(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  std::string bucket(req.param("bucket")), name = path_object_name(req);
  auto claims = check_url_token(svc, ref, token_param(req), bucket + "/" + name);
  auto row = as_admin(svc.db(), ref)(
      "SELECT json_build_object('version', version, 'metadata', metadata, 'name', name)::text "
      "FROM storage.objects WHERE bucket_id = $1 AND name = $2",
      {bucket, name});
  if (!row) throw object_not_found();
  send_object(svc, req, res, ref, *row, claims->getValue<int64_t>("exp"));
}

// A dry run of the insert as the caller: RLS refuses (42501) or the deliberate division by zero
// proves it would pass; either way nothing is written.
void check_may_upload(Service& svc, alpaca::Request& req, const std::string& bucket,
                      const std::string& name, bool upsert) {
  std::string sql =
      "WITH up AS (INSERT INTO storage.objects (bucket_id, name, owner, owner_id) VALUES ($1, $2, "
      "$3::uuid, $3)";
  if (upsert) sql += " ON CONFLICT (bucket_id, name) DO UPDATE SET updated_at = now()";
  sql += " RETURNING 1) SELECT 1 / (n - n) FROM (SELECT count(*) AS n FROM up) c";  // not folded
  try {
    caller_statement(svc.db(), req, sql, {bucket, name, caller_owner(req)});
  } catch (const StorageError& e) {
    if (e.status == 400 && std::string(e.what()).find("division by zero") != std::string::npos)
      return;
    throw;
  }
}

void sign_upload(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  std::string bucket(req.param("bucket")), name = path_object_name(req);
  bool upsert = upsert_requested(req);
  bucket_limits(as_caller(svc.db(), req), bucket);  // 404 for an unknown bucket
  check_may_upload(svc, req, bucket, name, upsert);
  Poco::JSON::Object claims;
  claims.set("url", bucket + "/" + name);
  claims.set("upsert", upsert);
  if (Param owner = caller_owner(req)) claims.set("owner", *owner);
  std::string token = make_url_token(svc, ref, claims, kUploadTokenSeconds);
  std::string url = "/object/upload/sign/" + bucket + "/" + name + "?token=" + token;
  res.json(200, "{\"url\":\"" + alpaca::json_escape(url) + "\",\"token\":\"" + token + "\"}");
}

void upload_signed(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  std::string bucket(req.param("bucket")), name = path_object_name(req);
  auto claims = check_url_token(svc, ref, token_param(req), bucket + "/" + name);
  bool upsert = claims->has("upsert") && claims->get("upsert").isBoolean() &&
                claims->getValue<bool>("upsert");
  Param owner;
  if (claims->has("owner") && claims->get("owner").isString())
    owner = claims->getValue<std::string>("owner");
  BucketLimits limits = bucket_limits(as_caller(svc.db(), req), bucket);
  ReceivedFile file = receive_file(svc, req, svc.blobs(ref), limits);
  // The token was the permission: the row is written as the management role.
  std::string id =
      write_object(svc, ref, as_admin(svc.db(), ref),
                   upsert ? WriteMode::kUpsert : WriteMode::kCreate, bucket, name, file, owner);
  res.json(200,
           "{\"Id\":\"" + id + "\",\"Key\":\"" + alpaca::json_escape(bucket + "/" + name) + "\"}");
}

}  // namespace

void add_signed_routes(alpaca::Host& host, Service& svc) {
  storage_route(host, svc, "POST", "/object/sign/:bucket/*path", sign_one);
  storage_route(host, svc, "POST", "/object/sign/:bucket", sign_many);
  for (const char* method : {"GET", "HEAD"})
    storage_route(host, svc, method, "/object/sign/:bucket/*path", get_signed,
                  ALPACA_ROUTE_ANONYMOUS);
  storage_route(host, svc, "POST", "/object/upload/sign/:bucket/*path", sign_upload);
  storage_route(host, svc, "PUT", "/object/upload/sign/:bucket/*path", upload_signed,
                ALPACA_ROUTE_ANONYMOUS | ALPACA_ROUTE_OWN_BODY_LIMIT);
}

}  // namespace storage
