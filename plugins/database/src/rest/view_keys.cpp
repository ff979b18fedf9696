#include "rest/view_keys.hpp"

#include <optional>
#include <string_view>

namespace database::rest {

namespace {

// Splits Postgres' node-tree text as its own reader (pg_strtok) does: ( ) { } are tokens of one
// character, everything else runs to whitespace or one of those, a backslash quoting the next.
std::vector<std::string_view> tokens(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\n' || c == '\t') {
      ++i;
    } else if (c == '(' || c == ')' || c == '{' || c == '}') {
      out.push_back(s.substr(i++, 1));
    } else {
      size_t start = i;
      while (i < s.size() && s[i] != ' ' && s[i] != '\n' && s[i] != '\t' && s[i] != '(' &&
             s[i] != ')' && s[i] != '{' && s[i] != '}')
        i += (s[i] == '\\' && i + 1 < s.size()) ? 2 : 1;
      out.push_back(s.substr(start, i - start));
    }
  }
  return out;
}

bool opens(std::string_view t) {
  return t == "(" || t == "{";
}
bool closes(std::string_view t) {
  return t == ")" || t == "}";
}

long number(std::string_view t) {
  long v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
    if (v > 0xFFFFFFFFL) return -1;
  }
  return t.empty() ? -1 : v;
}

}  // namespace

std::map<int, ColumnOrigin> view_origins(const std::string& tree) {
  std::map<int, ColumnOrigin> out;
  auto t = tokens(tree);
  // The rule's action list "({QUERY ...})": the view's own query is the first node.
  if (t.size() < 3 || t[0] != "(" || t[1] != "{" || t[2] != "QUERY") return out;
  const int query_depth = 2;
  int depth = 2;
  size_t i = 3;
  // Find ":targetList" among the QUERY node's own fields (not those of nested queries).
  for (; i < t.size(); ++i) {
    if (opens(t[i]))
      ++depth;
    else if (closes(t[i]) && --depth < query_depth)
      return out;
    else if (depth == query_depth && t[i] == ":targetList")
      break;
  }
  if (++i >= t.size() || t[i] != "(") return out;  // "<>": no columns
  const int list_depth = ++depth;
  for (++i; i < t.size() && depth >= list_depth; ++i) {
    if (t[i] == "{" && depth == list_depth) {
      // One TARGETENTRY: read its own fields, skipping the expression's subtree.
      const int entry_depth = ++depth;
      long resno = -1, tbl = 0, col = 0;
      bool junk = false;
      for (++i; i < t.size() && depth >= entry_depth; ++i) {
        if (opens(t[i])) {
          ++depth;
        } else if (closes(t[i])) {
          --depth;
        } else if (depth == entry_depth && i + 1 < t.size()) {
          if (t[i] == ":resno")
            resno = number(t[i + 1]);
          else if (t[i] == ":resorigtbl")
            tbl = number(t[i + 1]);
          else if (t[i] == ":resorigcol")
            col = number(t[i + 1]);
          else if (t[i] == ":resjunk")
            junk = t[i + 1] == "true";
        }
      }
      --i;  // the loop's ++i must see the token after the entry
      if (resno > 0 && tbl > 0 && col > 0 && !junk)
        out[static_cast<int>(resno)] = {static_cast<uint32_t>(tbl), static_cast<int>(col)};
    } else if (opens(t[i])) {
      ++depth;
    } else if (closes(t[i])) {
      --depth;
    }
  }
  return out;
}

namespace {

// A side of a key as some relation shows it: that relation and its names for the key columns.
struct Side {
  std::string schema, name;
  std::vector<std::string> columns;
};

}  // namespace

std::vector<ForeignKey> with_view_keys(const std::vector<TableKey>& keys,
                                       const std::vector<View>& views) {
  // view oid → its columns' origins, followed through views over views down to a table
  std::map<uint32_t, std::map<int, ColumnOrigin>> direct;
  for (const auto& v : views) direct[v.oid] = view_origins(v.tree);
  auto resolve = [&direct](ColumnOrigin o) -> std::optional<ColumnOrigin> {
    for (int hops = 0; hops < 32; ++hops) {  // views nest; a cycle cannot, but stay bounded
      auto view = direct.find(o.relation);
      if (view == direct.end()) return o;
      auto col = view->second.find(o.column);
      if (col == view->second.end()) return std::nullopt;
      o = col->second;
    }
    return std::nullopt;
  };
  // table oid → attnum → (view, its column name), first column of each view only
  std::map<uint32_t, std::map<int, std::map<const View*, std::string>>> shown;
  for (const auto& v : views)
    for (const auto& [attnum, origin] : direct[v.oid])
      if (auto base = resolve(origin); base && v.columns.count(attnum))
        shown[base->relation][base->column].emplace(&v, v.columns.at(attnum));
  // The views showing every one of `cols` of table `oid`, with their column names.
  auto through_views = [&shown](uint32_t oid, const std::vector<int>& cols) {
    std::vector<Side> out;
    auto table = shown.find(oid);
    if (table == shown.end() || cols.empty()) return out;
    auto first = table->second.find(cols[0]);
    if (first == table->second.end()) return out;
    for (const auto& [view, unused] : first->second) {
      Side side{view->schema, view->name, {}};
      for (int c : cols) {
        auto col = table->second.find(c);
        if (col == table->second.end()) break;
        auto name = col->second.find(view);
        if (name == col->second.end()) break;
        side.columns.push_back(name->second);
      }
      if (side.columns.size() == cols.size()) out.push_back(std::move(side));
    }
    return out;
  };
  std::vector<ForeignKey> out;
  for (const auto& k : keys) {
    out.push_back(k.fk);
    std::vector<Side> from{{k.fk.schema, k.fk.table, k.fk.columns}};
    std::vector<Side> to{{k.fk.ref_schema, k.fk.ref_table, k.fk.ref_columns}};
    for (auto& s : through_views(k.relation, k.keys)) from.push_back(std::move(s));
    for (auto& s : through_views(k.ref_relation, k.ref_keys)) to.push_back(std::move(s));
    for (size_t f = 0; f < from.size(); ++f)
      for (size_t t = 0; t < to.size(); ++t) {
        if (f == 0 && t == 0) continue;  // the key itself, already there
        out.push_back(ForeignKey{k.fk.name, from[f].schema, from[f].name, from[f].columns,
                                 to[t].schema, to[t].name, to[t].columns});
      }
  }
  return out;
}

}  // namespace database::rest
