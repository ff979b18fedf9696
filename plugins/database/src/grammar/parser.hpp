#pragma once
// Parses PostgREST's query-string grammar into grammar::ReadQuery. Shared by the management
// rows API and /rest/v1 so both read `?status=eq.open&order=created_at.desc` the same way.
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "grammar/ast.hpp"

namespace database::grammar {

using QueryPairs = std::vector<std::pair<std::string, std::string>>;

// Splits a raw query string into percent-decoded pairs, in order ('+' is a space, as browsers
// and URLSearchParams send it). A malformed escape is a ParseError.
QueryPairs split_query_string(std::string_view raw);

Field parse_field(std::string_view text);
std::vector<SelectItem> parse_select(std::string_view text);
// The right-hand side of col=...: [not.]op[(any|all|lang)].value
Filter parse_filter(Field field, std::string_view text);
// The value of or=/and= (with the parentheses): (cond,cond,...)
LogicTree parse_logic(bool is_or, bool negated, std::string_view text);
std::vector<OrderTerm> parse_order(std::string_view text);
int64_t parse_count(std::string_view what, std::string_view text);  // limit/offset: digits

// Sorts every parameter into select, filters, logic trees, order and paging of the root or of
// an embedded resource (`rel.col=eq.1`, `rel.order=...`). Names in `reserved` go to `other`.
ReadQuery parse_read_query(const QueryPairs& pairs, const std::set<std::string>& reserved);

}  // namespace database::grammar
