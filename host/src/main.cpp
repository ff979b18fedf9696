// alpaca-server: one binary serving the management API and every enabled plugin.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "core/app.hpp"
#include "core/config.hpp"
#include "plugins/plugin_manager.hpp"

namespace {

void usage() {
  std::cout << "Usage: alpaca-server [--config FILE] [--version] [--help]\n\n"
               "Serves the Alpaca management API and the per-project APIs of every enabled\n"
               "plugin. With no database URL it runs its own PostgreSQL under the data dir.\n\n"
               "Configuration: a properties file (--config FILE or ALPACA_CONFIG), each key\n"
               "overridable by an environment variable (key a.b_c -> ALPACA_A_B_C):\n"
               "  ALPACA_HTTP_HOST      listen address (127.0.0.1)\n"
               "  ALPACA_HTTP_PORT      listen port (8000)\n"
               "  ALPACA_DATA_DIR       data directory (./data)\n"
               "  ALPACA_DATABASE_URL   external PostgreSQL (unset = embedded)\n"
               "  ALPACA_ADMIN_TOKEN    the admin's personal access token on first start\n"
               "  ALPACA_PLUGINS        comma list of plugins to enable (all in the dir)\n"
               "  ALPACA_PLUGIN_DIR     plugin directory (../lib/alpaca/plugins)\n"
               "  ALPACA_LOG_LEVEL      trace|debug|info|warn|error (info)\n"
               "Every key is documented in config/alpaca.properties.\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  if (const char* env = std::getenv("ALPACA_CONFIG")) config_path = env;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--version" || a == "-v") {
      std::cout << "alpaca-server " << ALPACA_VERSION << " (plugin ABI " << ALPACA_ABI_MAJOR << "."
                << ALPACA_ABI_MINOR << ")\n";
      return 0;
    } else if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else {
      std::cerr << "alpaca-server: unknown argument '" << a << "' (see --help)\n";
      return 2;
    }
  }

  auto logger = spdlog::stderr_color_mt("alpaca");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  try {
    alpaca::Config config(config_path);
    spdlog::set_level(spdlog::level::from_str(config.get("log.level", "info")));
    alpaca::App app(std::move(config), argv[0]);
    return app.run();
  } catch (const alpaca::PluginError& e) {
    spdlog::critical("cannot start: a plugin named in ALPACA_PLUGINS was refused");
    return 1;
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
}
