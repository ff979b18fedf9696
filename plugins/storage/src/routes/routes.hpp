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
using ErrorWriter = void (*)(alpaca::Response&, const StorageError&);

// Registers `fn`: a write brackets the public cache, and StorageErrors and database errors are
// answered by `write_error`.
inline void add_route(alpaca::Host& host, Service& svc, alpaca_route_scope scope,
                      const std::string& pattern, const char* method, StorageHandler fn,
                      ErrorWriter write_error, uint32_t flags) {
  host.route(
      scope, method, pattern.c_str(),
      [&svc, fn, write_error](alpaca::Request& req, alpaca::Response& res) {
        CacheWrite write(svc, req);  // a write may change what /object/public serves
        try {
          fn(svc, req, res);
        } catch (const StorageError& e) {
          if (!res.done()) write_error(res, e);
        } catch (const plugin_common::DbError& e) {
          if (!res.done()) write_error(res, from_sqlstate(e.sqlstate, e.what()));
        }
      },
      flags);
}

// A /storage/v1 route: errors in Supabase Storage's body.
inline void storage_route(alpaca::Host& host, Service& svc, const char* method, const char* path,
                          StorageHandler fn, uint32_t flags = 0) {
  add_route(host, svc, ALPACA_SCOPE_PROJECT, std::string("/storage/v1") + path, method, fn,
            send_error, flags);
}

// A management route (/projects/:id/storage...), as the management role: errors are the
// management API's {"error", "detail"}.
inline void management_route(alpaca::Host& host, Service& svc, const char* method, const char* path,
                             StorageHandler fn, uint32_t flags = 0) {
  add_route(
      host, svc, ALPACA_SCOPE_MANAGEMENT, std::string("/projects/:id/storage") + path, method, fn,
      [](alpaca::Response& res, const StorageError& e) { res.error(e.status, e.error, e.what()); },
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
