#pragma once
// A statement's result, captured row by row, and its JSON form with Postgres types kept:
// numbers as numbers (numeric only when a double holds it exactly), booleans, json as JSON,
// arrays as typed JSON arrays, timestamps in ISO 8601, everything else as its text.
#include <libpq-fe.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "type_names.hpp"

namespace database {

struct CapturedResult {
  std::vector<std::string> names;
  std::vector<std::pair<Oid, int>> types;  // oid, typmod
  std::vector<std::vector<std::optional<std::string>>> rows;
  int64_t row_count = 0;  // rows returned (all of them, kept or not) or rows affected
  bool truncated = false;
  size_t bytes = 0;  // text kept so far, for the byte cap
};

// {"rows":[...],"rowCount":N,"fields":[{"name","type"}],"truncated":true?}. May query Postgres
// (type names not cached yet; arrays are converted by to_json there). Throws on failure.
std::string result_to_json(PGconn* conn, TypeNames& types, const CapturedResult& result);

// Exposed for unit tests.
bool numeric_fits_double(std::string_view text);
std::string iso_timestamp(std::string_view pg_text, bool with_zone);
std::vector<std::string_view> split_json_array(std::string_view array);

}  // namespace database
