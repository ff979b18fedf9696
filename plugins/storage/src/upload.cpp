#include "upload.hpp"

#include <Poco/Base64Decoder.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Net/MediaType.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/MultipartReader.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Timestamp.h>

#include <project_tx.hpp>
#include <sstream>

#include "errors.hpp"
#include "json_body.hpp"

namespace storage {

namespace {

constexpr size_t kChunk = 256 * 1024;  // one recv and one write per piece
constexpr size_t kMaxFieldBytes = 64 * 1024;
constexpr int kMaxParts = 64;

StorageError too_large() {
  return StorageError(413, "Payload too large", "The object exceeded the maximum allowed size");
}

// The request body as an istream (for Poco's multipart reader). A body the host refuses (over its
// limit, client gone) ends the stream and is remembered, so it is reported as what it was.
class BodyBuf : public std::streambuf {
 public:
  explicit BodyBuf(alpaca::Request& req) : req_(req), buf_(kChunk) {}
  bool failed() const { return failed_; }
  // The last bytes read from the request (enough to see the closing boundary).
  const std::string& tail() const { return tail_; }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    size_t n = 0;
    try {
      n = req_.read(buf_.data(), buf_.size());
    } catch (const std::exception&) {
      failed_ = true;
    }
    if (n == 0) return traits_type::eof();
    tail_.append(buf_.data() + (n > kTail ? n - kTail : 0), std::min(n, kTail));
    if (tail_.size() > kTail) tail_.erase(0, tail_.size() - kTail);
    setg(buf_.data(), buf_.data(), buf_.data() + n);
    return traits_type::to_int_type(*gptr());
  }

 private:
  alpaca::Request& req_;
  static constexpr size_t kTail = 256;
  std::vector<char> buf_;
  std::string tail_;
  bool failed_ = false;
};

bool mime_allowed(const BucketLimits& b, const std::string& type) {
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

void check_mime(const BucketLimits& b, const std::string& type) {
  if (!mime_allowed(b, type))
    throw StorageError(415, "invalid_mime_type", "mime type " + type + " is not supported");
}

std::string header_or(alpaca::Request& req, const char* name, const std::string& fallback) {
  const char* v = req.header(name);
  return v && *v ? std::string(v) : fallback;
}

Param json_object_or_400(const std::string& json, const char* what) {
  if (parse_json_object(json)) return json;
  throw StorageError(400, "InvalidRequest", std::string(what) + " must be a JSON object");
}

// x-metadata: base64 of a JSON object (supabase-js), kept as user_metadata.
Param header_metadata(alpaca::Request& req) {
  const char* v = req.header("x-metadata");
  if (!v || !*v) return std::nullopt;
  std::string json;
  try {
    std::istringstream in(v);
    Poco::Base64Decoder decoder(in);
    json.assign(std::istreambuf_iterator<char>(decoder), std::istreambuf_iterator<char>());
  } catch (const std::exception&) {
    json.clear();
  }
  return json_object_or_400(json, "x-metadata (base64)");
}

// Copies `in` into a new blob, at most `limit` bytes.
PendingBlob stream_to_blob(BlobStore& store, int64_t limit,
                           const std::function<size_t(char*, size_t)>& read) {
  auto writer = store.begin_write();
  std::vector<char> buf(kChunk);
  for (size_t n; (n = read(buf.data(), buf.size())) > 0;) {
    if (static_cast<int64_t>(writer->size() + n) > limit) throw too_large();
    writer->write(buf.data(), n);
  }
  return PendingBlob(store, writer->commit());
}

std::string read_field(std::istream& in) {
  std::string out;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    out.append(buf, static_cast<size_t>(in.gcount()));
    if (out.size() > kMaxFieldBytes)
      throw StorageError(400, "InvalidRequest", "A form field is over 64 KiB");
  }
  return out;
}

ReceivedFile receive_multipart(alpaca::Request& req, BlobStore& store, const BucketLimits& bucket,
                               int64_t limit, const std::string& content_type) {
  Poco::Net::MediaType media(content_type);
  std::string boundary = media.hasParameter("boundary") ? media.getParameter("boundary") : "";
  if (boundary.empty() || boundary.size() > 200)
    throw StorageError(400, "InvalidRequest", "multipart/form-data needs a boundary");
  BodyBuf body(req);
  std::istream in(&body);
  std::optional<PendingBlob> blob;
  std::string file_type;
  std::map<std::string, std::string> fields;
  try {
    Poco::Net::MultipartReader reader(in, boundary);
    for (int parts = 0; reader.hasNextPart(); ++parts) {
      if (parts == kMaxParts) throw StorageError(400, "InvalidRequest", "Too many form parts");
      Poco::Net::MessageHeader head;
      reader.nextPart(head);
      std::string disposition;
      Poco::Net::NameValueCollection params;
      Poco::Net::MessageHeader::splitParameters(head.get("Content-Disposition", ""), disposition,
                                                params);
      std::istream& part = reader.stream();
      if (!params.has("filename")) {
        fields[params.get("name", "")] = read_field(part);
        continue;
      }
      if (blob) throw StorageError(400, "InvalidRequest", "Send one file per upload");
      file_type = head.get("Content-Type", "application/octet-stream");
      check_mime(bucket, file_type);
      blob.emplace(stream_to_blob(store, limit, [&part](char* p, size_t n) {
        part.read(p, static_cast<std::streamsize>(n));
        return static_cast<size_t>(part.gcount());
      }));
    }
  } catch (const StorageError&) {
    if (body.failed()) throw too_large();
    throw;
  } catch (const std::exception& e) {
    if (body.failed()) throw too_large();
    throw StorageError(400, "InvalidRequest", std::string("Malformed multipart body: ") + e.what());
  }
  if (body.failed()) throw too_large();
  // Poco takes the end of the body for the end of the last part: a cut-off upload must not be
  // stored as if it were whole.
  if (body.tail().find("--" + boundary + "--") == std::string::npos)
    throw StorageError(400, "InvalidRequest",
                       "The multipart body ends before its closing boundary");
  if (!blob) throw StorageError(400, "InvalidRequest", "The form has no file part");
  // Supabase: cacheControl is seconds ("3600" → max-age=3600), absent → no-cache.
  std::string cache = "no-cache";
  if (auto it = fields.find("cacheControl"); it != fields.end() && !it->second.empty())
    cache = "max-age=" + it->second;
  Param meta;
  if (auto it = fields.find("metadata"); it != fields.end() && !it->second.empty())
    meta = json_object_or_400(it->second, "The metadata field");
  else
    meta = header_metadata(req);
  if (auto it = fields.find("contentType"); it != fields.end() && !it->second.empty()) {
    check_mime(bucket, it->second);
    file_type = it->second;
  }
  return ReceivedFile{std::move(*blob), file_type, cache, meta, std::move(fields)};
}

}  // namespace

PendingBlob::~PendingBlob() {
  if (!store_) return;
  try {
    store_->remove(ref_.key);
  } catch (const std::exception&) {  // the orphan sweeper removes it later
  }
}

BucketLimits bucket_limits(const RunSql& run, const std::string& id) {
  auto row = run("SELECT storage.alpaca_bucket_limits($1)::text", {id});
  if (!row) throw StorageError(404, "Bucket not found", "Bucket not found");
  auto o = parse_json_object(*row);
  BucketLimits b;
  b.is_public = o->getValue<bool>("public");
  if (!o->isNull("limit")) b.size_limit = o->getValue<int64_t>("limit");
  for (const auto& t : *o->getArray("types")) b.mime_types.push_back(t.convert<std::string>());
  return b;
}

ReceivedFile receive_file(Service& svc, alpaca::Request& req, BlobStore& store,
                          const BucketLimits& bucket) {
  svc.count_upload(req.project()->ref);
  int64_t limit = std::min(svc.max_file_size(), bucket.size_limit.value_or(svc.max_file_size()));
  std::string type = header_or(req, "Content-Type", "application/octet-stream");
  if (type.rfind("multipart/form-data", 0) == 0)  // the file part is checked as it streams
    return receive_multipart(req, store, bucket, limit, type);
  if (req.content_length() > limit) throw too_large();
  check_mime(bucket, type);
  Param meta = header_metadata(req);
  PendingBlob blob =
      stream_to_blob(store, limit, [&req](char* p, size_t n) { return req.read(p, n); });
  return ReceivedFile{
      std::move(blob), type, header_or(req, "cache-control", "max-age=3600"), meta, {}};
}

std::string object_metadata(const BlobRef& blob, const std::string& content_type,
                            const std::string& cache_control) {
  using alpaca::json_escape;
  std::string now =
      Poco::DateTimeFormatter::format(Poco::Timestamp(), Poco::DateTimeFormat::ISO8601_FRAC_FORMAT);
  std::string size = std::to_string(blob.size);
  std::string out = "{\"eTag\":\"\\\"";
  out += blob.md5_hex;
  out += "\\\"\",\"size\":" + size + ",\"mimetype\":\"" + json_escape(content_type) +
         "\",\"cacheControl\":\"" + json_escape(cache_control) + "\",\"lastModified\":\"" + now +
         "\",\"contentLength\":" + size + ",\"httpStatusCode\":200}";
  return out;
}

}  // namespace storage
