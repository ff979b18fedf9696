#pragma once
// Small JSON writing helpers for responses built by hand (rows can be large: no DOM).
#include <alpaca/plugin.hpp>
#include <string>
#include <string_view>

namespace database {

inline void append_string(std::string& out, std::string_view s) {
  out += '"';
  out += alpaca::json_escape(s);
  out += '"';
}

}  // namespace database
