#pragma once
// The storage plugin's route groups and how they are registered.
#include <alpaca/plugin.hpp>

#include "../errors.hpp"
#include "../service.hpp"

namespace storage {

using StorageHandler = void (*)(Service&, alpaca::Request&, alpaca::Response&);

// A /storage/v1 route: StorageErrors become Supabase Storage's error body.
inline void storage_route(alpaca::Host& host, Service& svc, const char* method, const char* path,
                          StorageHandler fn, uint32_t flags = 0) {
  std::string pattern = std::string("/storage/v1") + path;
  host.route(
      ALPACA_SCOPE_PROJECT, method, pattern.c_str(),
      [&svc, fn](alpaca::Request& req, alpaca::Response& res) {
        try {
          fn(svc, req, res);
        } catch (const StorageError& e) {
          if (!res.done()) send_error(res, e);
        }
      },
      flags);
}

void add_bucket_routes(alpaca::Host& host, Service& svc);
void add_object_routes(alpaca::Host& host, Service& svc);
void add_list_routes(alpaca::Host& host, Service& svc);
void add_management_routes(alpaca::Host& host, Service& svc);

}  // namespace storage
