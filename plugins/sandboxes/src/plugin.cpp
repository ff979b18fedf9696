// The "sandboxes" plugin: the spec's /sandboxes API and the alpaca.isolation interface.
#include <alpaca/plugin.hpp>

#include "isolation_abi.hpp"
#include "routes/routes.hpp"
#include "service.hpp"

namespace sandboxes {

class SandboxesPlugin : public alpaca::Plugin {
 public:
  explicit SandboxesPlugin(alpaca::Host& host) : Plugin(host), service_(host, read_settings(host)) {
    add_sandbox_routes(host, service_);
    add_exec_routes(host, service_);
    add_file_routes(host, service_);
    host.provide(ALPACA_ISOLATION_INTERFACE, ALPACA_ISOLATION_VERSION, isolation_table());
  }

  void start() override {
    service_.start();
    bind_isolation(&service_);
  }

  void stop() override {
    bind_isolation(nullptr);
    service_.stop();
  }

 private:
  Service service_;
};

}  // namespace sandboxes

ALPACA_PLUGIN(sandboxes::SandboxesPlugin, "sandboxes", "0.1.0",
              "Isolated code execution (/sandboxes) and the alpaca.isolation interface")
