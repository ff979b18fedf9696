// HTTP routes of the spec's "Sandboxes (Code Execution)" section.
#pragma once

#include <alpaca/plugin.hpp>

#include "../service.hpp"

namespace sandboxes {

void add_sandbox_routes(alpaca::Host& host, Service& svc);  // create, list, get, delete
void add_exec_routes(alpaca::Host& host, Service& svc);
void add_file_routes(alpaca::Host& host, Service& svc);

// The owner of what the caller makes: the account behind a personal access token, or the
// project of a service_role key. Throws 401 for anything else.
std::string caller_owner(const alpaca::Request& req);

}  // namespace sandboxes
