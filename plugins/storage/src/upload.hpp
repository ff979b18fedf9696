#pragma once
// Receiving an object's bytes: the raw body, or the file part of a multipart form (Supabase's
// `cacheControl` and `metadata` fields), streamed into a new blob under the bucket's MIME and
// size limits. Never the whole file in memory.
#include <alpaca/plugin.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "blob/blob_store.hpp"
#include "caller_sql.hpp"
#include "service.hpp"

namespace storage {

struct BucketLimits {
  bool is_public = false;
  std::optional<int64_t> size_limit;
  std::vector<std::string> mime_types;  // empty: any
};

// The bucket's limits (a caller may write objects into a bucket it may not list, as in
// Supabase). 404 "Bucket not found".
BucketLimits bucket_limits(const RunSql& run, const std::string& bucket_id);

// A committed blob not yet named by a row: removed when this goes away unless kept.
class PendingBlob {
 public:
  PendingBlob(BlobStore& store, BlobRef ref) : store_(&store), ref_(std::move(ref)) {}
  PendingBlob(PendingBlob&& o) noexcept : store_(o.store_), ref_(std::move(o.ref_)) {
    o.store_ = nullptr;
  }
  PendingBlob(const PendingBlob&) = delete;
  PendingBlob& operator=(const PendingBlob&) = delete;
  ~PendingBlob();
  const BlobRef& ref() const { return ref_; }
  void keep() { store_ = nullptr; }  // a committed row names it now

 private:
  BlobStore* store_;
  BlobRef ref_;
};

struct ReceivedFile {
  PendingBlob blob;
  std::string content_type;
  std::string cache_control;
  Param user_metadata;                        // JSON object text
  std::map<std::string, std::string> fields;  // other form fields (e.g. the management `path`)
};

ReceivedFile receive_file(Service& svc, alpaca::Request& req, BlobStore& store,
                          const BucketLimits& bucket);

// Supabase's storage.objects.metadata for a received file.
std::string object_metadata(const BlobRef& blob, const std::string& content_type,
                            const std::string& cache_control);

}  // namespace storage
