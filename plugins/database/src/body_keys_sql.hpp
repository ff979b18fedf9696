#pragma once
// The keys of a JSON body, listed by Postgres, for bodies Poco cannot read: numbers past 64 bits
// or 1e400 are valid JSON that Postgres keeps to the last digit. Shared by the rows API and
// /rest/v1.
#include <string>

namespace database {

// SELECT of one text value: a JSON array of the keys of the object `body` (an SQL expression of
// type json), or with `arrays` also every key of an array's objects; NULL for anything else.
inline std::string body_keys_sql(const std::string& body, bool arrays) {
  std::string sql = "SELECT CASE json_typeof(" + body +
                    ") WHEN 'object' THEN (SELECT coalesce(json_agg(k), '[]') "
                    "FROM json_object_keys(" +
                    body + ") k)::text";
  if (arrays)
    sql +=
        " WHEN 'array' THEN (SELECT coalesce(json_agg(DISTINCT k), '[]') "
        "FROM json_array_elements(" +
        body + ") e, json_object_keys(e) k)::text";
  return sql + " END";
}

}  // namespace database
