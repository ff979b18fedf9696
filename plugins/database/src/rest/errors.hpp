#pragma once
// PostgREST's error answers: {"code","message","details","hint"} plus our {"error","detail"},
// with PostgREST's HTTP status for each SQLSTATE and PGRSTxxx code.
#include <alpaca/plugin.hpp>
#include <stdexcept>
#include <string>

namespace database::rest {

struct RestError : std::runtime_error {
  RestError(int status, std::string code, const std::string& message, std::string details = {},
            std::string hint = {})
      : std::runtime_error(message),
        status(status),
        code(std::move(code)),
        details(std::move(details)),
        hint(std::move(hint)) {}
  int status;
  std::string code, details, hint;
};

// The HTTP status PostgREST gives a Postgres error; `anon` decides 42501 (401 vs 403).
int status_for_sqlstate(const std::string& sqlstate, bool anon);
void send_error(alpaca::Response& res, const RestError& e);
void send_db_error(alpaca::Response& res, const alpaca_db_error& e, bool anon);

}  // namespace database::rest
