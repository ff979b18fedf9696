#include "result_json.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>

#include "json_util.hpp"

namespace database {

namespace {

enum : Oid {
  kBool = 16,
  kInt8 = 20,
  kInt2 = 21,
  kInt4 = 23,
  kOid = 26,
  kJson = 114,
  kFloat4 = 700,
  kFloat8 = 701,
  kTimestamp = 1114,
  kTimestampTz = 1184,
  kNumeric = 1700,
  kJsonb = 3802
};

std::string quote_inexact_numbers(std::string_view json);

bool non_finite(std::string_view v) {
  return v == "NaN" || v == "Infinity" || v == "-Infinity";
}

// Text array literal {"a","b",NULL} for passing values to Postgres as one parameter.
std::string text_array_literal(const std::vector<const std::optional<std::string>*>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    if (!*values[i]) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char c : **values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// Converts each array column through Postgres (to_json keeps element types), one query for
// all of them. Returns per column (empty for non-array ones) the JSON of each row's value.
std::vector<std::vector<std::string>> convert_arrays(PGconn* conn,
                                                     const std::vector<ColumnType>& types,
                                                     const CapturedResult& r) {
  std::vector<std::vector<std::string>> out(types.size());
  std::string sql = "SELECT ";
  std::vector<std::string> params;
  std::vector<size_t> cols;
  for (size_t c = 0; c < types.size(); ++c) {
    if (types[c].category != 'A' || r.rows.empty()) continue;
    std::vector<const std::optional<std::string>*> values;
    for (const auto& row : r.rows) values.push_back(&row[c]);
    params.push_back(text_array_literal(values));
    if (!cols.empty()) sql += ", ";
    // The type name comes from format_type(), not from the request.
    sql += "(SELECT json_agg(to_json(v::" + types[c].name + ") ORDER BY i) FROM unnest($" +
           std::to_string(params.size()) + "::text[]) WITH ORDINALITY AS u(v, i))::text";
    cols.push_back(c);
  }
  if (cols.empty()) return out;
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  std::unique_ptr<PGresult, decltype(&PQclear)> res(
      PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                   nullptr, nullptr, 0),
      &PQclear);
  if (PQresultStatus(res.get()) != PGRES_TUPLES_OK)
    throw std::runtime_error(std::string("array conversion failed: ") + PQerrorMessage(conn));
  for (size_t k = 0; k < cols.size(); ++k) {
    auto parts = split_json_array(PQgetvalue(res.get(), 0, static_cast<int>(k)));
    if (parts.size() != r.rows.size()) throw std::runtime_error("array conversion: row mismatch");
    bool numeric = types[cols[k]].name.rfind("numeric", 0) == 0;
    for (auto p : parts)
      out[cols[k]].push_back(numeric ? quote_inexact_numbers(p) : std::string(p));
  }
  return out;
}

void append_value(std::string& out, Oid type, const std::string& v) {
  switch (type) {
    case kBool:
      out += v == "t" ? "true" : "false";
      return;
    case kInt2:
    case kInt4:
    case kInt8:
    case kOid:
      out += v;
      return;
    case kFloat4:
    case kFloat8:
      if (non_finite(v)) return append_string(out, v);
      out += v;
      return;
    case kNumeric:
      if (non_finite(v) || !numeric_fits_double(v)) return append_string(out, v);
      out += v;
      return;
    case kJson:
    case kJsonb:
      out += v;
      return;
    case kTimestamp:
      return append_string(out, iso_timestamp(v, false));
    case kTimestampTz:
      return append_string(out, iso_timestamp(v, true));
    default:
      return append_string(out, v);
  }
}

// In a numeric[] as to_json writes it, numbers a double cannot hold become strings, as for a
// plain numeric value.
std::string quote_inexact_numbers(std::string_view json) {
  std::string out;
  out.reserve(json.size() + 8);
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < json.size())
        out += json[++i];
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
      out += c;
    } else if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      size_t end = json.find_first_not_of("-+.eE0123456789", i);
      std::string_view num =
          json.substr(i, end == std::string_view::npos ? json.size() - i : end - i);
      if (numeric_fits_double(num)) {
        out += num;
      } else {
        out += '"';
        out += num;
        out += '"';
      }
      i += num.size() - 1;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

bool numeric_fits_double(std::string_view text) {
  double d = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  char buf[400];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  if (res.ec != std::errc()) return false;
  std::string_view shortest(buf, static_cast<size_t>(res.ptr - buf));
  // Postgres prints scale digits ("1.50"): drop trailing zeros and a bare point to compare.
  std::string_view norm = text;
  if (norm.find('.') != std::string_view::npos) {
    while (norm.back() == '0') norm.remove_suffix(1);
    if (norm.back() == '.') norm.remove_suffix(1);
  }
  if (norm == "-0") norm = "0";
  if (shortest == "-0") shortest = "0";
  return norm == shortest;
}

namespace {
// "2026-01-02 03:04:05.123+09[:30[:15]]" in any session time zone → the same instant in UTC.
std::optional<std::string> to_utc(std::string_view v) {
  using namespace std::chrono;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (std::sscanf(std::string(v.substr(0, 19)).c_str(), "%4d-%2d-%2d %2d:%2d:%2d", &y, &mo, &d, &h,
                  &mi, &sec) != 6)
    return std::nullopt;
  size_t sign = v.find_first_of("+-", 19);
  if (sign == std::string_view::npos) return std::nullopt;
  std::string_view frac = v.substr(19, sign - 19);  // "" or ".123456"
  int oh = 0, om = 0, os = 0;
  std::sscanf(std::string(v.substr(sign + 1)).c_str(), "%2d:%2d:%2d", &oh, &om, &os);
  int offset = (oh * 3600 + om * 60 + os) * (v[sign] == '-' ? -1 : 1);
  sys_seconds t =
      sys_days{year{y} / month{static_cast<unsigned>(mo)} / day{static_cast<unsigned>(d)}} +
      hours{h} + minutes{mi} + seconds{sec} - seconds{offset};
  auto day_point = floor<days>(t);
  year_month_day ymd{day_point};
  hh_mm_ss<seconds> hms{t - day_point};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return std::string(buf) + std::string(frac) + "+00:00";
}
}  // namespace

std::string iso_timestamp(std::string_view v, bool with_zone) {
  // ISO DateStyle: "2026-01-02 03:04:05.123456+00"; keep infinity and BC dates as they are.
  if (v.size() < 19 || v[10] != ' ' || v.find(" BC") != std::string_view::npos)
    return std::string(v);
  if (with_zone) {
    // Always UTC, even when the caller's SQL changed the session's TimeZone.
    if (auto utc = to_utc(v)) return *utc;
  }
  std::string out(v);
  out[10] = 'T';
  return out;
}

std::vector<std::string_view> split_json_array(std::string_view a) {
  std::vector<std::string_view> out;
  size_t i = a.find('[');
  if (i == std::string_view::npos) return out;
  ++i;
  int depth = 0;
  bool in_string = false;
  size_t start = i;
  auto push = [&](size_t end) {
    std::string_view part = a.substr(start, end - start);
    while (!part.empty() && std::isspace(static_cast<unsigned char>(part.front())))
      part.remove_prefix(1);
    while (!part.empty() && std::isspace(static_cast<unsigned char>(part.back())))
      part.remove_suffix(1);
    if (!part.empty()) out.push_back(part);
  };
  for (; i < a.size(); ++i) {
    char c = a[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    } else if (c == ']' && depth == 0) {
      push(i);
      break;
    } else if (c == ',' && depth == 0) {
      push(i);
      start = i + 1;
    }
  }
  return out;
}

std::string result_to_json(PGconn* conn, TypeNames& type_names, const CapturedResult& r) {
  std::vector<ColumnType> types = type_names.lookup(conn, r.types);
  auto arrays = convert_arrays(conn, types, r);
  std::string out;
  out.reserve(r.bytes + r.rows.size() * r.names.size() * 8 + 64);
  out += "{\"rows\":[";
  for (size_t i = 0; i < r.rows.size(); ++i) {
    out += i ? ",{" : "{";
    for (size_t c = 0; c < r.names.size(); ++c) {
      if (c) out += ',';
      append_string(out, r.names[c]);
      out += ':';
      if (!r.rows[i][c])
        out += "null";
      else if (types[c].category == 'A')
        out += arrays[c][i];
      else
        append_value(out, r.types[c].first, *r.rows[i][c]);
    }
    out += '}';
  }
  out += "],\"rowCount\":" + std::to_string(r.row_count) + ",\"fields\":[";
  for (size_t c = 0; c < r.names.size(); ++c) {
    out += c ? ",{\"name\":" : "{\"name\":";
    append_string(out, r.names[c]);
    out += ",\"type\":";
    append_string(out, types[c].name);
    out += '}';
  }
  out += ']';
  if (r.truncated) out += ",\"truncated\":true";
  out += '}';
  return out;
}

}  // namespace database
