#include "control/core_plugin.hpp"

#include <alpaca/plugin.hpp>

#include "control/routes.hpp"

namespace alpaca {
namespace {

ControlPlane* g_control = nullptr;

class CorePlugin : public Plugin {
 public:
  explicit CorePlugin(Host& host) : Plugin(host) { register_control_routes(host, *g_control); }
};

const alpaca_plugin_descriptor kCore = {
    sizeof(alpaca_plugin_descriptor),
    ALPACA_ABI_MAJOR,
    ALPACA_ABI_MINOR,
    "core",
    ALPACA_VERSION,
    "Projects, API keys and personal access tokens",
    nullptr,
    &detail::create<CorePlugin>,
    &detail::start<CorePlugin>,
    &detail::stop<CorePlugin>,
    &detail::destroy<CorePlugin>,
};

}  // namespace

const alpaca_plugin_descriptor* core_plugin(ControlPlane& control) {
  g_control = &control;
  return &kCore;
}

}  // namespace alpaca
