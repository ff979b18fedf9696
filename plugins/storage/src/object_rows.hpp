#pragma once
// Writing an uploaded object's row in storage.objects: as the caller (RLS decides) or as the
// management role (signed uploads, management routes). The row names the blob (`version`); once
// it commits, the blob it replaced is removed.
#include <functional>
#include <optional>
#include <string>

#include "caller_sql.hpp"
#include "service.hpp"
#include "upload.hpp"

namespace storage {

enum class WriteMode {
  kCreate,  // 409 Duplicate when the name is taken
  kUpsert,  // create or replace
  kUpdate,  // replace; 404 when there is none
};

// Returns the object's id. `owner`: the user uploading (a uuid), if any.
std::string write_object(Service& svc, const std::string& ref, const RunSql& run, WriteMode mode,
                         const std::string& bucket, const std::string& name, ReceivedFile& file,
                         const Param& owner);

// The signed-in user behind the request (a token with a subject, not a project key), if any.
Param caller_owner(alpaca::Request& req);

// x-upsert: true.
inline bool upsert_requested(alpaca::Request& req) {
  const char* v = req.header("x-upsert");
  return v && std::string(v) == "true";
}

// Removes blobs no row names any more; failures are left to the orphan sweeper.
void remove_blobs(Service& svc, const std::string& ref, const std::vector<std::string>& keys);

}  // namespace storage
