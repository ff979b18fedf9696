#pragma once
// The management API's own routes (projects, keys, tokens), registered through the same ABI
// plugins use, as the built-in "core" plugin.
namespace alpaca {
class Host;
class ControlPlane;
void register_control_routes(Host& host, ControlPlane& control);
}  // namespace alpaca
