#pragma once
// Identifier quoting for statements built before any connection is at hand (one round trip:
// the statement is complete before the host picks a pooled connection). Same result as libpq's
// PQescapeIdentifier for a UTF-8 client encoding, which every connection of the host uses:
// wrapped in double quotes, inner quotes doubled; NUL refused (it would end the C string).
// Names reaching it were checked against the schema cache already, except output aliases.
#include <stdexcept>
#include <string>
#include <string_view>

namespace database::rest {

inline std::string quote_ident(std::string_view name) {
  if (name.find('\0') != std::string_view::npos)
    throw std::invalid_argument("a name must not contain NUL");
  std::string out;
  out.reserve(name.size() + 2);
  out += '"';
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace database::rest
