#pragma once
// Finds, checks, loads and runs plugins (shared objects speaking the C ABI in plugin.h).
// A plugin that fails a check is refused with one log line naming the file, both ABI versions
// and the fix. Refusing an optional plugin (found by scanning the directory) is not fatal;
// refusing one named in ALPACA_PLUGINS stops the server.
#include <alpaca/plugin.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace alpaca {
class App;

struct PluginError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class PluginManager {
 public:
  explicit PluginManager(App& app);
  ~PluginManager();

  // Registers a plugin compiled into the host (the control plane) under `name`.
  void add_builtin(const alpaca_plugin_descriptor* descriptor);
  // Loads the plugins from `dir` (all *.so, or the names in `enabled`, comma-separated; a name
  // containing '/' is a path). Throws PluginError when an explicitly enabled one is refused.
  void load(const std::string& dir, const std::string& enabled);
  // create() each plugin in dependency order.
  void create_all();
  // start() each plugin.
  void start_all();
  void stop_all();
  void destroy_all();

  std::vector<std::string> active() const;  // names of plugins running

 private:
  struct Loaded;
  void refuse(Loaded& p, const std::string& reason, const std::string& fix);
  void load_file(const std::string& path, bool explicit_);

  App& app_;
  std::vector<std::unique_ptr<Loaded>> plugins_;  // in dependency order after create_all
};

}  // namespace alpaca
