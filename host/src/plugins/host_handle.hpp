#pragma once
// The host-side definition of the ABI's opaque alpaca_host: one per plugin.
#include <alpaca/plugin.h>

#include <string>

namespace alpaca {
class App;
const alpaca_host_api* host_api_table();
}  // namespace alpaca

struct alpaca_host {
  alpaca::App* app = nullptr;
  std::string plugin;        // descriptor name
  std::string file;          // shared object path (or "(built-in)")
  bool registering = false;  // routes may be added only during create
  bool route_conflict = false;
  std::string conflict;  // what clashed, kept apart from set_error's message
  std::string error;     // from set_error or a refused registration
};
