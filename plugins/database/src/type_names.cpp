#include "type_names.hpp"

#include <memory>
#include <stdexcept>

namespace database {

namespace {
constexpr Oid kFirstUserOid = 16384;  // FirstNormalObjectId: below are built-in types
}

std::vector<ColumnType> TypeNames::lookup(PGconn* conn,
                                          const std::vector<std::pair<Oid, int>>& columns) {
  std::vector<ColumnType> out(columns.size());
  std::vector<size_t> missing;
  {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < columns.size(); ++i) {
      auto it = cache_.find(columns[i]);
      if (it != cache_.end())
        out[i] = it->second;
      else
        missing.push_back(i);
    }
  }
  if (missing.empty()) return out;

  std::string oids = "{", mods = "{";
  for (size_t k = 0; k < missing.size(); ++k) {
    if (k) oids += ',', mods += ',';
    oids += std::to_string(columns[missing[k]].first);
    mods += std::to_string(columns[missing[k]].second);
  }
  oids += '}';
  mods += '}';
  const char* params[] = {oids.c_str(), mods.c_str()};
  std::unique_ptr<PGresult, decltype(&PQclear)> r(
      PQexecParams(conn,
                   "SELECT format_type(u.t, nullif(u.m, -1)), coalesce(pt.typcategory, 'U') "
                   "FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS u(t, m, i) "
                   "LEFT JOIN pg_type pt ON pt.oid = u.t ORDER BY u.i",
                   2, nullptr, params, nullptr, nullptr, 0),
      &PQclear);
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK ||
      PQntuples(r.get()) != static_cast<int>(missing.size()))
    throw std::runtime_error(std::string("type lookup failed: ") + PQerrorMessage(conn));
  std::lock_guard lock(mutex_);
  for (size_t k = 0; k < missing.size(); ++k) {
    ColumnType t{PQgetvalue(r.get(), static_cast<int>(k), 0),
                 PQgetvalue(r.get(), static_cast<int>(k), 1)[0]};
    out[missing[k]] = t;
    if (columns[missing[k]].first < kFirstUserOid) cache_[columns[missing[k]]] = t;
  }
  return out;
}

}  // namespace database
