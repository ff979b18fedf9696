#include "rest/errors.hpp"

#include "json_util.hpp"

namespace database::rest {

int status_for_sqlstate(const std::string& s, bool anon) {
  auto starts = [&s](const char* p) { return s.rfind(p, 0) == 0; };
  if (s.size() == 5 && starts("PT")) {  // raise sqlstate 'PT404' → 404
    int status = std::atoi(s.c_str() + 2);
    if (status >= 100 && status <= 599) return status;
  }
  if (s == "42501") return anon ? 401 : 403;
  if (s == "23503" || s == "23505") return 409;
  if (s == "42P01" || s == "42883") return 404;
  if (s == "25006") return 405;  // read-only transaction
  if (s == "P0001") return 400;
  if (s == "57014") return 504;  // statement timeout
  if (starts("08") || starts("53")) return 503;
  if (starts("09") || starts("0L") || starts("0P") || starts("28")) return 403;
  if (starts("25") || starts("2D") || starts("38") || starts("39") || starts("3B") ||
      starts("40") || starts("54") || starts("55") || starts("57") || starts("58") ||
      starts("F0") || starts("HV") || starts("P0") || starts("XX") || s == "42P17")
    return 500;
  return 400;
}

void send_error(alpaca::Response& res, const RestError& e) {
  std::string out = "{\"code\":";
  append_string(out, e.code);
  out += ",\"message\":";
  append_string(out, e.what());
  auto nullable = [&out](const std::string& v) {
    if (v.empty())
      out += "null";
    else
      append_string(out, v);
  };
  out += ",\"details\":";
  nullable(e.details);
  out += ",\"hint\":";
  nullable(e.hint);
  out += ",\"error\":";
  append_string(out, e.what());
  out += ",\"detail\":";
  nullable(e.details.empty() ? e.hint : e.details);
  out += '}';
  res.status(e.status).header("Content-Type", "application/json; charset=utf-8");
  res.send(out);
}

void send_db_error(alpaca::Response& res, const alpaca_db_error& e, bool anon) {
  send_error(res, RestError(status_for_sqlstate(e.sqlstate, anon), e.sqlstate, e.message,
                            e.detail ? e.detail : "", e.hint ? e.hint : ""));
}

}  // namespace database::rest
