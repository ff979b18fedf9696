#include "core/config.hpp"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace alpaca {

namespace {
std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}
}  // namespace

Config::Config(const std::string& path) : path_(path) {
  if (path.empty()) return;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read config file " + path);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == '!') continue;
    size_t eq = t.find_first_of("=:");
    if (eq == std::string::npos)
      throw std::runtime_error(path + ":" + std::to_string(lineno) + ": expected key = value");
    values_[trim(t.substr(0, eq))] = trim(t.substr(eq + 1));
  }
}

std::string Config::env_name(const std::string& key) {
  std::string out = "ALPACA_";
  for (char c : key)
    out += std::isalnum(static_cast<unsigned char>(c))
               ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
               : '_';
  return out;
}

std::optional<std::string> Config::find(const std::string& key) const {
  if (const char* env = std::getenv(env_name(key).c_str())) return std::string(env);
  auto it = values_.find(key);
  if (it != values_.end()) return it->second;
  return std::nullopt;
}

std::string Config::get(const std::string& key, const std::string& fallback) const {
  auto v = find(key);
  return v ? *v : fallback;
}

int64_t Config::get_int(const std::string& key, int64_t fallback) const {
  auto v = find(key);
  if (!v || v->empty()) return fallback;
  size_t used = 0;
  int64_t n = 0;
  try {
    n = std::stoll(*v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v->size())
    throw std::runtime_error("config " + key + " (" + env_name(key) +
                             ") must be an integer, got '" + *v + "'");
  return n;
}

bool Config::get_bool(const std::string& key, bool fallback) const {
  auto v = find(key);
  if (!v || v->empty()) return fallback;
  if (*v == "true" || *v == "1" || *v == "yes" || *v == "on") return true;
  if (*v == "false" || *v == "0" || *v == "no" || *v == "off") return false;
  throw std::runtime_error("config " + key + " must be true or false, got '" + *v + "'");
}

void Config::set(const std::string& key, const std::string& value) {
  values_[key] = value;
}

const char* Config::intern(const std::string& value) const {
  std::lock_guard lock(intern_mutex_);
  return interned_.try_emplace(value, value).first->second.c_str();
}

}  // namespace alpaca
