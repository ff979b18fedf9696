#include "grammar/sql_builder.hpp"

#include <algorithm>
#include <cctype>
#include <map>

namespace database::grammar {

namespace {

const std::map<std::string, std::string, std::less<>> kBinary = {{"eq", "="},
                                                                 {"neq", "<>"},
                                                                 {"gt", ">"},
                                                                 {"gte", ">="},
                                                                 {"lt", "<"},
                                                                 {"lte", "<="},
                                                                 {"like", "LIKE"},
                                                                 {"ilike", "ILIKE"},
                                                                 {"match", "~"},
                                                                 {"imatch", "~*"},
                                                                 {"isdistinct", "IS DISTINCT FROM"},
                                                                 {"cs", "@>"},
                                                                 {"cd", "<@"},
                                                                 {"ov", "&&"},
                                                                 {"sl", "<<"},
                                                                 {"sr", ">>"},
                                                                 {"nxl", "&>"},
                                                                 {"nxr", "&<"},
                                                                 {"adj", "-|-"}};

const std::map<std::string, std::string, std::less<>> kIs = {{"null", "IS NULL"},
                                                             {"not_null", "IS NOT NULL"},
                                                             {"true", "IS TRUE"},
                                                             {"false", "IS FALSE"},
                                                             {"unknown", "IS UNKNOWN"}};

const std::map<std::string, std::string, std::less<>> kTsQuery = {{"fts", "to_tsquery"},
                                                                  {"plfts", "plainto_tsquery"},
                                                                  {"phfts", "phraseto_tsquery"},
                                                                  {"wfts", "websearch_to_tsquery"}};

bool is_integer(const std::string& s) {
  size_t start = !s.empty() && s[0] == '-' ? 1 : 0;
  return s.size() > start && s.size() < 10 && std::all_of(s.begin() + start, s.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c));
         });
}

// PostgREST's like wildcard: '*' stands for '%' (URLs make '%' awkward).
std::string like_pattern(std::string v) {
  std::replace(v.begin(), v.end(), '*', '%');
  return v;
}

}  // namespace

SqlBuilder::SqlBuilder(Quote identifier, Quote literal,
                       std::function<std::string(const std::string&)> column_type)
    : ident_(std::move(identifier)),
      literal_(std::move(literal)),
      column_type_(std::move(column_type)) {}

std::string SqlBuilder::field(const Field& f, const std::string& alias) const {
  std::string out = computed ? computed(f.name, alias) : std::string();
  if (out.empty()) out = alias.empty() ? ident_(f.name) : alias + "." + ident_(f.name);
  for (const auto& step : f.path) {
    out += step.as_text ? "->>" : "->";
    out += is_integer(step.key) ? step.key : literal_(step.key);
  }
  return out;
}

std::string SqlBuilder::select_list(const std::vector<SelectItem>& items,
                                    const std::string& alias) const {
  if (items.empty()) return alias.empty() ? "*" : alias + ".*";
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    if (item.kind == SelectItem::Kind::Star) {
      out += alias.empty() ? "*" : alias + ".*";
      continue;
    }
    std::string expr = field(item.field, alias);
    // The cast is letters, digits and '_' only (the parser checked): safe as written.
    if (!item.cast.empty()) expr = "(" + expr + ")::" + item.cast;
    out += expr + " AS " + ident_(item.alias.empty() ? item.field.output_name() : item.alias);
  }
  return out;
}

std::string SqlBuilder::filter(const Filter& f, const std::string& alias, SqlParams& params) const {
  std::string expr = field(f.field, alias);
  std::string sql;
  if (f.op == "is") {
    sql = expr + " " + kIs.at(f.value);
  } else if (f.op == "in") {
    if (f.list.empty()) {
      sql = "FALSE";
    } else {
      sql = expr + " IN (";
      for (size_t i = 0; i < f.list.size(); ++i) sql += (i ? ", " : "") + params.add(f.list[i]);
      sql += ")";
    }
  } else if (auto ts = kTsQuery.find(f.op); ts != kTsQuery.end()) {
    std::string config = f.language.empty() ? "" : params.add(f.language) + "::regconfig, ";
    std::string doc = expr;
    if (!f.field.path.empty() || column_type_(f.field.name) != "tsvector")
      doc = "to_tsvector(" + config + "(" + expr + ")::text)";
    sql = doc + " @@ " + ts->second + "(" + config + params.add(f.value) + ")";
  } else {
    const std::string& op = kBinary.at(f.op);
    bool like = f.op == "like" || f.op == "ilike";
    if (f.quantifier.empty()) {
      sql = expr + " " + op + " " + params.add(like ? like_pattern(f.value) : f.value);
    } else {
      // eq(any).{a,b} → (x = $1 OR x = $2); each value's type is inferred from the column.
      bool any = f.quantifier == "any";
      if (f.list.empty()) {
        sql = any ? "FALSE" : "TRUE";
      } else {
        sql = "(";
        for (size_t i = 0; i < f.list.size(); ++i) {
          if (i) sql += any ? " OR " : " AND ";
          sql += expr + " " + op + " " + params.add(like ? like_pattern(f.list[i]) : f.list[i]);
        }
        sql += ")";
      }
    }
  }
  return f.negated ? "NOT (" + sql + ")" : sql;
}

std::string SqlBuilder::condition(const Condition& c, const std::string& alias,
                                  SqlParams& params) const {
  if (const auto* f = std::get_if<Filter>(&c)) return filter(*f, alias, params);
  const auto& tree = std::get<LogicTree>(c);
  std::string sql = "(";
  for (size_t i = 0; i < tree.children.size(); ++i) {
    if (i) sql += tree.is_or ? " OR " : " AND ";
    sql += condition(tree.children[i], alias, params);
  }
  sql += ")";
  return tree.negated ? "NOT " + sql : sql;
}

std::string SqlBuilder::conditions(const std::vector<Condition>& where, const std::string& alias,
                                   SqlParams& params) const {
  if (where.empty()) return "TRUE";
  std::string sql;
  for (const auto& c : where) {
    if (!sql.empty()) sql += " AND ";
    sql += '(';
    sql += condition(c, alias, params);
    sql += ')';
  }
  return sql;
}

std::string SqlBuilder::order_by(const std::vector<OrderTerm>& order,
                                 const std::string& alias) const {
  std::string sql;
  for (const auto& t : order) {
    if (!sql.empty()) sql += ", ";
    sql += field(t.field, alias) + (t.desc ? " DESC" : " ASC");
    if (t.nulls_first) sql += *t.nulls_first ? " NULLS FIRST" : " NULLS LAST";
  }
  return sql;
}

}  // namespace database::grammar
