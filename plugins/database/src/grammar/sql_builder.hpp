#pragma once
// Turns parsed grammar (filters, logic trees, select items, order) into SQL text over one
// relation alias. Names are quoted and JSON keys escaped by the callbacks (libpq's escaping);
// every filter value becomes a $n parameter, so no part of a request reaches SQL unquoted.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "grammar/ast.hpp"

namespace database::grammar {

struct SqlParams {
  std::vector<std::optional<std::string>> values;
  std::string add(std::string value) {
    values.emplace_back(std::move(value));
    std::string ref = "$";
    ref += std::to_string(values.size());
    return ref;
  }
};

class SqlBuilder {
 public:
  using Quote = std::function<std::string(const std::string&)>;
  // column_type: format_type() of a column of the relation, asked only for full-text search
  // (a tsvector column is searched as it is, anything else through to_tsvector).
  SqlBuilder(Quote identifier, Quote literal,
             std::function<std::string(const std::string&)> column_type);

  // alias."col"->'a'->>'b'
  std::string field(const Field& f, const std::string& alias) const;
  // "expr AS name, ..." for Star and Column items; embeds are the caller's business.
  std::string select_list(const std::vector<SelectItem>& items, const std::string& alias) const;
  std::string condition(const Condition& c, const std::string& alias, SqlParams& params) const;
  // The conditions ANDed, "TRUE" when there are none.
  std::string conditions(const std::vector<Condition>& where, const std::string& alias,
                         SqlParams& params) const;
  // "expr DESC NULLS LAST, ..." ("" when empty); related (rel(col)) terms are the caller's.
  std::string order_by(const std::vector<OrderTerm>& order, const std::string& alias) const;

 private:
  std::string filter(const Filter& f, const std::string& alias, SqlParams& params) const;
  Quote ident_, literal_;
  std::function<std::string(const std::string&)> column_type_;

 public:
  // Computed fields (PostgREST): for a name that is a function of the row, the call over the
  // alias ("" when the name is a plain column). Unset: every name is a column.
  std::function<std::string(const std::string& name, const std::string& alias)> computed;
};

}  // namespace database::grammar
