// Supabase Storage's object routes (first part): upload (raw body, streamed into the blob store,
// then the row), download (as the caller, or public), delete. The row is written as the caller,
// so RLS on storage.objects decides; the blob becomes visible only with its committed row.
#include <Poco/Base64Decoder.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Timestamp.h>

#include <project_tx.hpp>
#include <sstream>

#include "../caller_sql.hpp"
#include "../object_key.hpp"
#include "routes.hpp"

namespace storage {

namespace {

struct Bucket {
  bool is_public = false;
  std::optional<int64_t> size_limit;
  std::vector<std::string> mime_types;
};

// The bucket's limits, read as the management role (a caller may write objects it may not list
// buckets for, as in Supabase).
Bucket bucket_of(Service& svc, const std::string& ref, const std::string& id) {
  plugin_common::Tx tx(svc.db(), ref);
  auto row = tx.value(
      "SELECT json_build_object('public', coalesce(public, false), 'limit', file_size_limit, "
      "'types', coalesce(to_json(allowed_mime_types), '[]'::json))::text FROM storage.buckets "
      "WHERE id = $1",
      {id});
  tx.commit();
  if (!row) throw StorageError(404, "Bucket not found", "Bucket not found");
  Poco::JSON::Parser p;
  auto o = p.parse(*row).extract<Poco::JSON::Object::Ptr>();
  Bucket b;
  b.is_public = o->getValue<bool>("public");
  if (!o->isNull("limit")) b.size_limit = o->getValue<int64_t>("limit");
  for (const auto& t : *o->getArray("types")) b.mime_types.push_back(t.convert<std::string>());
  return b;
}

bool mime_allowed(const Bucket& b, const std::string& type) {
  if (b.mime_types.empty()) return true;
  std::string base = type.substr(0, type.find(';'));
  while (!base.empty() && base.back() == ' ') base.pop_back();
  for (const auto& allowed : b.mime_types) {
    if (allowed == base) return true;
    if (allowed.size() > 2 && allowed.compare(allowed.size() - 2, 2, "/*") == 0 &&
        base.compare(0, allowed.size() - 1, allowed, 0, allowed.size() - 1) == 0)
      return true;
  }
  return false;
}

std::string header_or(alpaca::Request& req, const char* name, const std::string& fallback) {
  const char* v = req.header(name);
  return v && *v ? std::string(v) : fallback;
}

// x-metadata: base64 of a JSON object (supabase-js), kept as user_metadata.
Param user_metadata(alpaca::Request& req) {
  const char* v = req.header("x-metadata");
  if (!v || !*v) return std::nullopt;
  try {
    std::istringstream in(v);
    Poco::Base64Decoder decoder(in);
    std::string json((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
    Poco::JSON::Parser p;
    if (p.parse(json).type() == typeid(Poco::JSON::Object::Ptr)) return json;
  } catch (const std::exception&) {
  }
  throw StorageError(400, "InvalidRequest", "x-metadata must be base64 of a JSON object");
}

Param caller_owner(alpaca::Request& req) {
  const alpaca_caller& c = req.caller();
  if (c.kind == ALPACA_CALLER_PROJECT_JWT && c.subject && c.role && std::string(c.role) != "anon" &&
      std::string(c.role) != "service_role")
    return std::string(c.subject);
  return std::nullopt;
}

std::string object_name(alpaca::Request& req) {
  std::string name(req.param("path"));
  if (std::string why = object_name_problem(name); !why.empty())
    throw StorageError(400, "InvalidKey", "Invalid key: " + why);
  return name;
}

// POST (create; x-upsert: true to overwrite) and PUT (update) /object/:bucket/*path.
void upload(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  std::string bucket_id(req.param("bucket"));
  std::string name = object_name(req);
  bool update = req.method() == "PUT";
  bool upsert = header_or(req, "x-upsert", "false") == "true";
  std::string type = header_or(req, "Content-Type", "application/octet-stream");
  if (type.rfind("multipart/form-data", 0) == 0)
    throw StorageError(415, "invalid_mime_type",
                       "multipart uploads are not supported yet; send the raw bytes");
  Bucket bucket = bucket_of(svc, ref, bucket_id);
  if (!mime_allowed(bucket, type))
    throw StorageError(415, "invalid_mime_type", "mime type " + type + " is not supported");
  int64_t limit = std::min(svc.max_file_size(), bucket.size_limit.value_or(svc.max_file_size()));
  int64_t declared = req.content_length();
  if (declared > limit)
    throw StorageError(413, "Payload too large", "The object exceeded the maximum allowed size");
  Param meta_user = user_metadata(req);

  // Stream the body into a new blob: never the whole file in memory.
  BlobStore& blobs = svc.blobs(ref);
  auto writer = blobs.begin_write();
  std::string buf(64 * 1024, '\0');
  for (size_t n; (n = req.read(buf.data(), buf.size())) > 0;) {
    if (static_cast<int64_t>(writer->size() + n) > limit)
      throw StorageError(413, "Payload too large", "The object exceeded the maximum allowed size");
    writer->write(buf.data(), n);
  }
  BlobRef blob = writer->commit();

  std::string cache = header_or(req, "cache-control", "max-age=3600");
  std::string now =
      Poco::DateTimeFormatter::format(Poco::Timestamp(), Poco::DateTimeFormat::ISO8601_FRAC_FORMAT);
  std::string metadata =
      "{\"eTag\":\"\\\"" + blob.md5_hex + "\\\"\",\"size\":" + std::to_string(blob.size) +
      ",\"mimetype\":\"" + alpaca::json_escape(type) + "\",\"cacheControl\":\"" +
      alpaca::json_escape(cache) + "\",\"lastModified\":\"" + now +
      "\",\"contentLength\":" + std::to_string(blob.size) + ",\"httpStatusCode\":200}";
  Row row;
  try {
    const char* sql =
        update   ? "WITH old AS (SELECT id, version FROM storage.objects WHERE bucket_id = $1 AND "
                   "name = $2 FOR UPDATE), up AS (UPDATE storage.objects o SET version = $3, "
                   "metadata = $4::jsonb, user_metadata = coalesce($6::jsonb, o.user_metadata), "
                   "owner = coalesce($5::uuid, o.owner), owner_id = coalesce($5::text, o.owner_id), "
                   "updated_at = now(), last_accessed_at = now() FROM old WHERE o.id = old.id "
                   "RETURNING o.id) SELECT json_build_object('id', (SELECT id FROM up), 'old', "
                   "(SELECT version FROM old))::text"
        : upsert ? "WITH old AS (SELECT version FROM storage.objects WHERE bucket_id = $1 AND "
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
    row = caller_statement(svc.db(), req, sql,
                           {bucket_id, name, blob.key, metadata, caller_owner(req), meta_user});
  } catch (...) {
    blobs.remove(blob.key);  // no row points at it
    throw;
  }
  Poco::JSON::Parser p;
  auto o = p.parse(row.value).extract<Poco::JSON::Object::Ptr>();
  if (o->isNull("id")) {
    blobs.remove(blob.key);
    throw StorageError(404, "not_found", "Object not found");
  }
  if (!o->isNull("old")) {
    std::string old = o->getValue<std::string>("old");
    if (!old.empty() && old != blob.key) {
      try {
        blobs.remove(old);  // replaced: the row no longer names it (a sweep would find it too)
      } catch (const std::exception&) {
      }
    }
  }
  res.json(200, "{\"Id\":\"" + o->getValue<std::string>("id") + "\",\"Key\":\"" +
                    alpaca::json_escape(bucket_id + "/" + name) + "\"}");
}

// Sends the object's bytes with Supabase's headers; Range and If-None-Match as HTTP says.
void send_object(Service& svc, alpaca::Request& req, alpaca::Response& res, const std::string& ref,
                 const std::string& row_json) {
  Poco::JSON::Parser p;
  auto o = p.parse(row_json).extract<Poco::JSON::Object::Ptr>();
  std::string key = o->getValue<std::string>("version");
  auto meta = o->getObject("metadata");
  auto reader = svc.blobs(ref).open_read(key);
  if (!reader) throw StorageError(404, "not_found", "Object not found");
  std::string etag = meta && meta->has("eTag") ? meta->getValue<std::string>("eTag") : "";
  std::string type = meta && meta->has("mimetype") ? meta->getValue<std::string>("mimetype")
                                                   : "application/octet-stream";
  std::string cache =
      meta && meta->has("cacheControl") ? meta->getValue<std::string>("cacheControl") : "no-cache";
  uint64_t size = reader->size();
  res.header("ETag", etag).header("Cache-Control", cache).header("Accept-Ranges", "bytes");
  if (meta && meta->has("lastModified")) {
    int tz = 0;
    Poco::DateTime dt;
    if (Poco::DateTimeParser::tryParse(meta->getValue<std::string>("lastModified"), dt, tz))
      res.header("Last-Modified",
                 Poco::DateTimeFormatter::format(dt, Poco::DateTimeFormat::HTTP_FORMAT));
  }
  if (const char* d = req.query("download")) {
    std::string file = *d ? std::string(d) : o->getValue<std::string>("name");
    file = file.substr(file.rfind('/') + 1);
    std::string safe;  // a quoted-string: no quotes, backslashes or control characters
    for (unsigned char ch : file)
      if (ch >= 0x20 && ch != '"' && ch != '\\' && ch != 0x7f) safe += static_cast<char>(ch);
    res.header("Content-Disposition", "attachment; filename=\"" + safe + "\"");
  }
  const char* inm = req.header("If-None-Match");
  if (inm && !etag.empty() && std::string(inm) == etag) {
    res.status(304);
    res.send("");
    return;
  }
  uint64_t first = 0, last = size ? size - 1 : 0;
  int status = 200;
  if (const char* range = req.header("Range"); range && size > 0) {
    unsigned long long a = 0, b = 0;
    if (std::sscanf(range, "bytes=%llu-%llu", &a, &b) == 2 && a <= b && a < size) {
      first = a;
      last = std::min<uint64_t>(b, size - 1);
      status = 206;
    } else if (std::sscanf(range, "bytes=%llu-", &a) == 1 && a < size) {
      first = a;
      status = 206;
    } else if (std::sscanf(range, "bytes=-%llu", &b) == 1 && b > 0) {
      first = size - std::min<uint64_t>(b, size);
      status = 206;
    } else {
      res.status(416).header("Content-Range", "bytes */" + std::to_string(size));
      res.send("");
      return;
    }
    res.header("Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) +
                                    "/" + std::to_string(size));
  }
  uint64_t length = size ? last - first + 1 : 0;
  res.status(status).header("Content-Type", type).header("Content-Length", std::to_string(length));
  std::string buf(64 * 1024, '\0');
  for (uint64_t at = first, left = length; left > 0;) {
    size_t n = reader->read_at(at, buf.data(), std::min<uint64_t>(left, buf.size()));
    if (n == 0) break;
    res.write(std::string_view(buf.data(), n));
    at += n;
    left -= n;
  }
  res.end();
}

void download(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  Row r = caller_statement(svc.db(), req,
                           "SELECT json_build_object('version', version, 'metadata', metadata, "
                           "'name', name)::text FROM storage.objects WHERE bucket_id = $1 AND "
                           "name = $2",
                           {std::string(req.param("bucket")), object_name(req)});
  if (!r.found) throw StorageError(404, "not_found", "Object not found");
  send_object(svc, req, res, ref, r.value);
}

void download_public(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  std::string bucket_id(req.param("bucket"));
  std::string name = object_name(req);
  plugin_common::Tx tx(svc.db(), ref);
  auto row = tx.value(
      "SELECT json_build_object('version', o.version, 'metadata', o.metadata, 'name', "
      "o.name)::text FROM storage.objects o JOIN storage.buckets b ON b.id = o.bucket_id WHERE "
      "b.public AND o.bucket_id = $1 AND o.name = $2",
      {bucket_id, name});
  tx.commit();
  if (!row) throw StorageError(404, "not_found", "Object not found");
  send_object(svc, req, res, ref, *row);
}

void remove(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string ref = req.project()->ref;
  svc.ensure_schema(ref);
  Row r = caller_statement(svc.db(), req,
                           "DELETE FROM storage.objects WHERE bucket_id = $1 AND name = $2 "
                           "RETURNING version",
                           {std::string(req.param("bucket")), object_name(req)});
  if (!r.found) throw StorageError(404, "not_found", "Object not found");
  if (!r.value.empty()) {
    try {
      svc.blobs(ref).remove(r.value);
    } catch (const std::exception&) {  // the sweeper removes what is left
    }
  }
  res.json(200, R"({"message":"Successfully deleted"})");
}

}  // namespace

void add_object_routes(alpaca::Host& host, Service& svc) {
  storage_route(host, svc, "POST", "/object/:bucket/*path", upload);
  storage_route(host, svc, "PUT", "/object/:bucket/*path", upload);
  storage_route(host, svc, "GET", "/object/:bucket/*path", download);
  storage_route(host, svc, "HEAD", "/object/:bucket/*path", download);
  storage_route(host, svc, "GET", "/object/authenticated/:bucket/*path", download);
  storage_route(host, svc, "HEAD", "/object/authenticated/:bucket/*path", download);
  storage_route(host, svc, "GET", "/object/public/:bucket/*path", download_public,
                ALPACA_ROUTE_ANONYMOUS);
  storage_route(host, svc, "HEAD", "/object/public/:bucket/*path", download_public,
                ALPACA_ROUTE_ANONYMOUS);
  storage_route(host, svc, "DELETE", "/object/:bucket/*path", remove);
}

}  // namespace storage
