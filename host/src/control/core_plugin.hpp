#pragma once
// The control plane's routes packaged as the built-in plugin "core", so they go through the
// same ABI, router and checks as any plugin.
#include <alpaca/plugin.h>

namespace alpaca {
class ControlPlane;
const alpaca_plugin_descriptor* core_plugin(ControlPlane& control);
}  // namespace alpaca
