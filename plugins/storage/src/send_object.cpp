#include "send_object.hpp"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Timestamp.h>

#include <cstdio>

#include "errors.hpp"
#include "json_body.hpp"

namespace storage {

// Sends the object's bytes with Supabase's headers; Range and If-None-Match as HTTP says.
bool send_object(Service& svc, alpaca::Request& req, alpaca::Response& res, const std::string& ref,
                 const std::string& row_json, std::optional<int64_t> expires_at, bool missing_ok) {
  auto o = parse_json_object(row_json);
  if (!o) throw StorageError(500, "InternalError", "Unreadable object row");
  std::string key = o->getValue<std::string>("version");
  auto meta = o->getObject("metadata");
  auto reader = svc.blobs(ref).open_read(key);
  if (!reader) {
    if (missing_ok) return false;
    throw object_not_found();
  }
  std::string etag = meta && meta->has("eTag") ? meta->getValue<std::string>("eTag") : "";
  std::string type = meta && meta->has("mimetype") ? meta->getValue<std::string>("mimetype")
                                                   : "application/octet-stream";
  std::string cache =
      meta && meta->has("cacheControl") ? meta->getValue<std::string>("cacheControl") : "no-cache";
  uint64_t size = reader->size();
  // Stored as sent, served as text: a user's HTML must not run in the API's origin (Supabase).
  if (type.rfind("text/html", 0) == 0) type = "text/plain" + type.substr(9);
  res.header("ETag", etag).header("Accept-Ranges", "bytes");
  if (expires_at)
    res.header("Expires", Poco::DateTimeFormatter::format(
                              Poco::Timestamp::fromEpochTime(static_cast<std::time_t>(*expires_at)),
                              Poco::DateTimeFormat::HTTP_FORMAT));
  else
    res.header("Cache-Control", cache);
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
    return true;
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
      return true;
    }
    res.header("Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) +
                                    "/" + std::to_string(size));
  }
  uint64_t length = size ? last - first + 1 : 0;
  res.status(status).header("Content-Type", type);
  // sendfile(2) from the blob's descriptor: no copy through this process (host ABI 1.2).
  if (reader->native_fd() >= 0 && res.can_send_fd()) {
    res.send_fd(reader->native_fd(), first, length);
    return true;
  }
  res.header("Content-Length", std::to_string(length));
  std::string buf(64 * 1024, '\0');
  for (uint64_t at = first, left = length; left > 0;) {
    size_t n = reader->read_at(at, buf.data(), std::min<uint64_t>(left, buf.size()));
    if (n == 0) break;
    res.write(std::string_view(buf.data(), n));
    at += n;
    left -= n;
  }
  res.end();
  return true;
}

}  // namespace storage
