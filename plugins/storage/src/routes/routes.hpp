#pragma once
// The storage plugin's route groups and how they are registered.
#include <alpaca/plugin.hpp>
#include <project_tx.hpp>

#include "../errors.hpp"
#include "../service.hpp"

namespace storage {

// Brackets a request that is not a GET/HEAD as a write for the project's public cache.
class CacheWrite {
 public:
  CacheWrite(Service& svc, alpaca::Request& req) : svc_(svc) {
    if (req.method() != "GET" && req.method() != "HEAD" && req.project()) {
      ref_ = req.project()->ref;
      svc_.public_cache().begin_write(ref_);
    }
  }
  ~CacheWrite() {
    if (!ref_.empty()) svc_.public_cache().end_write(ref_);
  }
  CacheWrite(const CacheWrite&) = delete;
  CacheWrite& operator=(const CacheWrite&) = delete;

 private:
  Service& svc_;
  std::string ref_;
};

using StorageHandler = void (*)(Service&, alpaca::Request&, alpaca::Response&);

// A /storage/v1 route: StorageErrors become Supabase Storage's error body.
inline void storage_route(alpaca::Host& host, Service& svc, const char* method, const char* path,
                          StorageHandler fn, uint32_t flags = 0) {
  std::string pattern = std::string("/storage/v1") + path;
  host.route(
      ALPACA_SCOPE_PROJECT, method, pattern.c_str(),
      [&svc, fn](alpaca::Request& req, alpaca::Response& res) {
        // A write may change what /object/public serves.
        CacheWrite write(svc, req);
        try {
          fn(svc, req, res);
        } catch (const StorageError& e) {
          if (!res.done()) send_error(res, e);
        } catch (const plugin_common::DbError& e) {
          if (!res.done()) send_error(res, from_sqlstate(e.sqlstate, e.what()));
        }
      },
      flags);
}

// A management route (/projects/:id/storage...), as the management role: errors are the
// management API's {"error", "detail"}.
inline void management_route(alpaca::Host& host, Service& svc, const char* method, const char* path,
                             StorageHandler fn, uint32_t flags = 0) {
  std::string pattern = std::string("/projects/:id/storage") + path;
  host.route(
      ALPACA_SCOPE_MANAGEMENT, method, pattern.c_str(),
      [&svc, fn](alpaca::Request& req, alpaca::Response& res) {
        CacheWrite write(svc, req);
        try {
          fn(svc, req, res);
        } catch (const StorageError& e) {
          if (!res.done()) res.error(e.status, e.error, e.what());
        } catch (const plugin_common::DbError& e) {
          StorageError se = from_sqlstate(e.sqlstate, e.what());
          if (!res.done()) res.error(se.status, se.error, se.what());
        }
      },
      flags);
}

void add_bucket_routes(alpaca::Host& host, Service& svc);
void add_object_routes(alpaca::Host& host, Service& svc);
void add_list_routes(alpaca::Host& host, Service& svc);
void add_object_op_routes(alpaca::Host& host, Service& svc);
void add_signed_routes(alpaca::Host& host, Service& svc);
void add_management_routes(alpaca::Host& host, Service& svc);
void add_management_object_routes(alpaca::Host& host, Service& svc);

}  // namespace storage
