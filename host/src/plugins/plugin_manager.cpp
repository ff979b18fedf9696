#include "plugins/plugin_manager.hpp"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <set>
#include <sstream>

#include "core/app.hpp"
#include "plugins/host_handle.hpp"

namespace alpaca {

struct PluginManager::Loaded {
  std::string file;
  bool explicit_ = false;
  boost::dll::shared_library lib;  // never unloaded (ABI rule): kept until exit
  const alpaca_plugin_descriptor* desc = nullptr;
  alpaca_host handle;
  void* state = nullptr;
  bool refused = false;
  bool created = false;
  bool started = false;
  std::string name() const { return desc && desc->name ? desc->name : file; }
  std::string abi;  // set when known without a descriptor (another major, no symbol)
  std::string version() const {
    if (desc) return std::to_string(desc->abi_major) + "." + std::to_string(desc->abi_minor);
    return abi.empty() ? "unknown" : abi;
  }
};

namespace {
const std::string kHostAbi =
    std::to_string(ALPACA_ABI_MAJOR) + "." + std::to_string(ALPACA_ABI_MINOR);

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

bool valid_name(const char* n) {
  if (!n || !*n) return false;
  for (const char* c = n; *c; ++c)
    if (!(std::islower(static_cast<unsigned char>(*c)) ||
          std::isdigit(static_cast<unsigned char>(*c)) || *c == '_' || *c == '-'))
      return false;
  return true;
}
}  // namespace

PluginManager::PluginManager(App& app) : app_(app) {}
PluginManager::~PluginManager() = default;

void PluginManager::refuse(Loaded& p, const std::string& reason, const std::string& fix) {
  p.refused = true;
  std::string line = "refused plugin " + p.file + ": " + reason + " (plugin ABI " + p.version() +
                     ", server ABI " + kHostAbi + "); fix: " + fix;
  spdlog::error("{}", line);
  app_.router().remove_owner(p.name());
  app_.interfaces().remove_provider(p.name());
  if (p.explicit_) throw PluginError(line);
}

void PluginManager::add_builtin(const alpaca_plugin_descriptor* descriptor) {
  auto p = std::make_unique<Loaded>();
  p->file = "(built-in " + std::string(descriptor->name) + ")";
  p->desc = descriptor;
  p->explicit_ = true;
  plugins_.push_back(std::move(p));
}

void PluginManager::load_file(const std::string& path, bool explicit_) {
  auto p = std::make_unique<Loaded>();
  p->file = path;
  p->explicit_ = explicit_;
  Loaded& pl = *p;
  plugins_.push_back(std::move(p));
  if (!std::filesystem::exists(path))
    return refuse(pl, "file not found", "install it, or remove it from ALPACA_PLUGINS");
  boost::dll::fs::error_code ec;
  // RTLD_NODELETE: a plugin is never unloaded, even when refused or at exit (ABI rule).
  auto mode = static_cast<boost::dll::load_mode::type>(RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  pl.lib.load(path, mode, ec);
  if (ec) {
    const char* why = ::dlerror();  // reading it clears it: read once
    return refuse(pl, "cannot be loaded: " + std::string(why ? why : ec.message()),
                  "rebuild it for this system or install its libraries");
  }
  if (!pl.lib.has(ALPACA_PLUGIN_ENTRY_NAME)) {
    // The major is in the symbol name: look for neighbouring majors to say which it was.
    for (int major = 0; major < 10; ++major) {
      if (major == ALPACA_ABI_MAJOR) continue;
      if (pl.lib.has("alpaca_plugin_v" + std::to_string(major)) &&
          (pl.abi = std::to_string(major) + ".x", true))
        return refuse(pl,
                      "built for plugin ABI major " + std::to_string(major) +
                          " (exports alpaca_plugin_v" + std::to_string(major) + ")",
                      "rebuild the plugin against the SDK of this server (ABI " + kHostAbi +
                          ") or use a server with ABI major " + std::to_string(major));
    }
    pl.abi = "none";
    return refuse(pl, "does not export " ALPACA_PLUGIN_ENTRY_NAME,
                  "define it with ALPACA_PLUGIN(...) from <alpaca/plugin.hpp> or export the C "
                  "function alpaca_plugin_v1");
  }
  auto entry = pl.lib.get<const alpaca_plugin_descriptor*()>(ALPACA_PLUGIN_ENTRY_NAME);
  pl.desc = entry();
  if (!pl.desc ||
      pl.desc->struct_size < offsetof(alpaca_plugin_descriptor, destroy) + sizeof(void*))
    return refuse(pl, "returned no valid descriptor", "rebuild it with the current SDK");
  if (pl.desc->abi_major != ALPACA_ABI_MAJOR)
    return refuse(pl, "built for another plugin ABI major",
                  "rebuild the plugin against this server's SDK (ABI " + kHostAbi + ")");
  if (pl.desc->abi_minor > ALPACA_ABI_MINOR)
    return refuse(pl, "needs a newer server (ABI minor " + std::to_string(pl.desc->abi_minor) + ")",
                  "upgrade alpaca-server to one with ABI " + std::to_string(ALPACA_ABI_MAJOR) +
                      "." + std::to_string(pl.desc->abi_minor) + " or later");
  if (!valid_name(pl.desc->name))
    return refuse(pl, "has an invalid name (use [a-z0-9_-]+)", "rename the plugin");
}

void PluginManager::load(const std::string& dir, const std::string& enabled) {
  if (!enabled.empty()) {
    for (const auto& item : split_list(enabled))
      load_file(item.find('/') != std::string::npos ? item : dir + "/" + item + ".so", true);
  } else if (std::filesystem::is_directory(dir)) {
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.is_regular_file() && e.path().extension() == ".so") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) load_file(f, false);
  } else {
    spdlog::warn("plugin directory {} does not exist: no plugins loaded", dir);
  }
  // Duplicate names: the file named after the plugin (<name>.so) wins, else the first found.
  auto canonical = [](const Loaded& p) {
    return std::filesystem::path(p.file).stem().string() == p.name();
  };
  for (size_t i = 0; i < plugins_.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      Loaded& a = *plugins_[j];
      Loaded& b = *plugins_[i];
      if (a.refused || b.refused || a.name() != b.name()) continue;
      Loaded& loser = canonical(b) && !canonical(a) ? a : b;
      Loaded& winner = &loser == &a ? b : a;
      refuse(loser, "repeats the plugin name '" + loser.name() + "' of " + winner.file,
             "remove one of the two files, or rename one plugin");
    }
  }
}

void PluginManager::create_all() {
  // 1. Refuse plugins whose dependencies are missing or refused, until nothing changes (a
  //    refusal can cascade). Nothing is moved yet, so a throw here leaves plugins_ whole.
  auto enabled = [&](const std::string& name) {
    for (auto& q : plugins_)
      if (!q->refused && q->name() == name) return true;
    return false;
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& p : plugins_) {
      if (p->refused) continue;
      for (const char* const* d = p->desc->depends; d && *d; ++d) {
        if (enabled(*d)) continue;
        refuse(*p, std::string("depends on plugin '") + *d + "', which is not enabled",
               std::string("enable '") + *d + "' (add it to ALPACA_PLUGINS or the plugin dir)");
        changed = true;
        break;
      }
    }
  }
  // 2. Order: a plugin comes after its dependencies. Leftovers form a cycle.
  std::vector<Loaded*> order;
  std::set<std::string> placed;
  for (bool progress = true; progress;) {
    progress = false;
    for (auto& p : plugins_) {
      if (p->refused || placed.count(p->name())) continue;
      bool ready = true;
      for (const char* const* d = p->desc->depends; d && *d; ++d)
        if (!placed.count(*d)) ready = false;
      if (!ready) continue;
      placed.insert(p->name());
      order.push_back(p.get());
      progress = true;
    }
  }
  for (auto& p : plugins_)
    if (!p->refused && !placed.count(p->name()))
      refuse(*p, "has a dependency cycle", "break the cycle in `depends`");
  std::stable_sort(plugins_.begin(), plugins_.end(), [&](const auto& x, const auto& y) {
    auto rank = [&](const Loaded* l) {
      auto it = std::find(order.begin(), order.end(), l);
      return it == order.end() ? order.size() : static_cast<size_t>(it - order.begin());
    };
    return rank(x.get()) < rank(y.get());  // refused ones stay, at the end, still loaded
  });

  for (auto& p : plugins_) {
    if (p->refused) continue;
    p->handle.app = &app_;
    p->handle.plugin = p->name();
    p->handle.file = p->file;
    p->handle.registering = true;
    alpaca_status s =
        p->desc->create ? p->desc->create(&p->handle, host_api_table(), &p->state) : ALPACA_OK;
    p->handle.registering = false;
    if (s != ALPACA_OK || p->handle.route_conflict) {
      std::string why = p->handle.route_conflict  ? p->handle.conflict
                        : p->handle.error.empty() ? "create() failed"
                                                  : p->handle.error;
      if (s == ALPACA_OK && p->desc->destroy) p->desc->destroy(p->state);
      p->state = nullptr;
      refuse(*p, why,
             p->handle.route_conflict ? "change the route or disable one of the two plugins"
                                      : "see the plugin's own log lines above");
      continue;
    }
    p->created = true;
  }
}

void PluginManager::start_all() {
  for (auto& p : plugins_) {
    if (!p->created) continue;
    alpaca_status s = p->desc->start ? p->desc->start(p->state) : ALPACA_OK;
    if (s != ALPACA_OK) {
      refuse(*p,
             "start() failed: " + (p->handle.error.empty() ? "no reason given" : p->handle.error),
             "see the plugin's own log lines above");
      continue;
    }
    p->started = true;
    spdlog::info("plugin {} {} started ({})", p->name(), p->desc->version ? p->desc->version : "",
                 p->file);
  }
}

void PluginManager::stop_all() {
  for (auto it = plugins_.rbegin(); it != plugins_.rend(); ++it)
    if ((*it)->started && (*it)->desc->stop) {
      (*it)->desc->stop((*it)->state);
      (*it)->started = false;
    }
}

void PluginManager::destroy_all() {
  for (auto it = plugins_.rbegin(); it != plugins_.rend(); ++it)
    if ((*it)->created && (*it)->desc->destroy) {
      (*it)->desc->destroy((*it)->state);
      (*it)->created = false;
    }
}

std::vector<std::string> PluginManager::active() const {
  std::vector<std::string> out;
  for (const auto& p : plugins_)
    if (p->started) out.push_back(p->name());
  return out;
}

}  // namespace alpaca
