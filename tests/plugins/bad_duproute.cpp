// Registers a route the probe plugin already owns.
#include <alpaca/plugin.hpp>

class DupRoute : public alpaca::Plugin {
 public:
  explicit DupRoute(alpaca::Host& host) : Plugin(host) {
    host.route(ALPACA_SCOPE_PUBLIC, "GET", "/probe/echo/:other/*tail",
               [](alpaca::Request&, alpaca::Response& res) { res.json(200, "{}"); });
  }
};
// Depends on probe so that probe registers first and this one is the one refused.
ALPACA_PLUGIN(DupRoute, "bad_duproute", "0.0.1", "registers a duplicate route", "probe")
