#pragma once
// Answers a download: the object's bytes with Supabase's headers (ETag, Cache-Control,
// Last-Modified, Content-Disposition for ?download), Range (206/416) and If-None-Match (304).
// Bytes go out with sendfile(2) when the host and blob store allow.
#include <alpaca/plugin.hpp>
#include <optional>
#include <string>

#include "service.hpp"

namespace storage {

// `row_json`: {"version", "metadata", "name"} of the object. `expires_at` (unix seconds): a
// signed URL's end, sent as Expires instead of the object's Cache-Control.
// Returns false, having sent nothing, when the blob is gone and missing_ok (a cached row).
bool send_object(Service& svc, alpaca::Request& req, alpaca::Response& res, const std::string& ref,
                 const std::string& row_json, std::optional<int64_t> expires_at = std::nullopt,
                 bool missing_ok = false);

}  // namespace storage
