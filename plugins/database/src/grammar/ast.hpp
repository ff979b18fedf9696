#pragma once
// PostgREST's read grammar (select, filters, logic trees, order, limit/offset) as parsed data.
// One parser fills it for both the management rows API and /rest/v1; SQL is built from it
// elsewhere, so nothing here is SQL yet.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace database::grammar {

// A column with an optional JSON path: data->a->>b (`->` keeps JSON, `->>` gives text).
struct JsonStep {
  std::string key;  // an integer key is an array index
  bool as_text = false;
};
struct Field {
  std::string name;
  std::vector<JsonStep> path;
  // The key PostgREST gives the value in results: the last path key, else the column name.
  const std::string& output_name() const { return path.empty() ? name : path.back().key; }
};

// select=alias:col->a::type, rel(...), alias:rel!hint!inner(...), ...rel(...)
struct SelectItem {
  enum class Kind { Star, Column, Embed };
  Kind kind = Kind::Column;
  std::string alias;  // "" when none
  Field field;        // Column
  std::string cast;   // Column: a type name made of words, "" when none
  // Embed
  std::string relation;
  std::string hint;  // the !fk or !column disambiguation, "" when none
  bool inner = false, spread = false;
  std::vector<SelectItem> children;
};

// col=[not.]op[(modifier)].value
struct Filter {
  Field field;
  bool negated = false;
  std::string op;                 // eq, neq, gt, ..., in, is, fts, ...
  std::string quantifier;         // "any" | "all" for eq(any).{..}, like(all).{..}; "" otherwise
  std::string language;           // fts(english)
  std::string value;              // the raw value (like/ilike '*' still unconverted)
  std::vector<std::string> list;  // in.(...) and quantified {..} values, unquoted
};

// or=(...), and=(...), not.or=(...), nested and(...) / or(...)
struct LogicTree;
using Condition = std::variant<Filter, LogicTree>;
struct LogicTree {
  bool is_or = false;
  bool negated = false;
  std::vector<Condition> children;
};

struct OrderTerm {
  std::string relation;  // rel(col).desc orders by a to-one embedded column; "" for own column
  Field field;
  bool desc = false;
  std::optional<bool> nulls_first;  // unset: Postgres' default for the direction
};

// Conditions, order and paging for one resource: the root (path empty) or an embedded one
// reached by `rel.sub.col=...` keys (path {"rel","sub"}).
struct ResourceQuery {
  std::vector<std::string> path;
  std::vector<Condition> where;  // ANDed
  std::vector<OrderTerm> order;
  std::optional<int64_t> limit, offset;
};

struct ReadQuery {
  std::vector<SelectItem> select;        // empty: select=* (or no select given)
  std::vector<ResourceQuery> resources;  // [0] is the root, always present
  // The parameters the parser left alone (reserved by the caller: schema=, on_conflict=...).
  std::vector<std::pair<std::string, std::string>> other;

  ResourceQuery& root() { return resources.front(); }
  const ResourceQuery& root() const { return resources.front(); }
};

// A malformed part of the query string: message says what, detail points at the part.
struct ParseError : std::runtime_error {
  ParseError(const std::string& message, std::string detail)
      : std::runtime_error(message), detail(std::move(detail)) {}
  std::string detail;
};

}  // namespace database::grammar
