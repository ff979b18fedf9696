#include "rest/planner.hpp"

#include <algorithm>
#include <map>

#include "rest/errors.hpp"
#include "rest/quote.hpp"

namespace database::rest {

namespace g = grammar;

std::string SelectSql::full() const {
  std::string out = "SELECT " + list + " FROM " + from + " WHERE " + where;
  if (!order.empty()) out += " ORDER BY " + order;
  if (!paging.empty()) out += " " + paging;
  return out;
}

std::string SelectSql::count() const {
  return "SELECT count(*) FROM " + from + " WHERE " + where;
}

namespace {

std::string qualified(const Relation& r) {
  return quote_ident(r.schema) + "." + quote_ident(r.name);
}

bool subset(const std::vector<std::string>& small, const std::vector<std::string>& big) {
  return std::all_of(small.begin(), small.end(), [&big](const std::string& s) {
    return std::find(big.begin(), big.end(), s) != big.end();
  });
}

bool same(const Relation& r, const std::string& schema, const std::string& table) {
  return r.schema == schema && r.name == table;
}

// a.c1 = b.r1 AND a.c2 = b.r2
std::string pairs(const std::string& a, const std::vector<std::string>& ca, const std::string& b,
                  const std::vector<std::string>& cb) {
  std::string out;
  for (size_t i = 0; i < ca.size() && i < cb.size(); ++i) {
    if (!out.empty()) out += " AND ";
    out += a + "." + quote_ident(ca[i]) + " = " + b + "." + quote_ident(cb[i]);
  }
  return out.empty() ? "TRUE" : out;
}

void collect_fields(const g::Condition& c, std::vector<const g::Field*>& out) {
  if (const auto* f = std::get_if<g::Filter>(&c)) {
    out.push_back(&f->field);
    return;
  }
  for (const auto& child : std::get<g::LogicTree>(c).children) collect_fields(child, out);
}

}  // namespace

Planner::Planner(const Schema& schema, g::SqlParams& params)
    : schema_(schema),
      params_(params),
      sql_([](const std::string& n) { return quote_ident(n); },
           // JSON keys travel as parameters too: the statement text stays the same (prepared
           // once) whatever the keys.
           [this](const std::string& v) { return params_.add(v) + "::text"; },
           [this](const std::string& column) {
             const Column* c = current_ ? current_->column(column) : nullptr;
             return c ? c->type : std::string();
           }) {
  sql_.computed = [this](const std::string& name, const std::string& alias) -> std::string {
    if (!current_ || current_->column(name)) return "";
    auto it = current_->computed.find(name);
    return it == current_->computed.end() ? "" : it->second + "(" + alias + ")";
  };
}

void Planner::check_column(const Relation& rel, const g::Field& f) const {
  if (!rel.column(f.name) && !rel.computed.count(f.name))
    throw RestError(400, "42703", "column " + rel.name + "." + f.name + " does not exist");
}

const g::ResourceQuery* Planner::resource(const g::ReadQuery& q,
                                          const std::vector<std::string>& path) const {
  for (const auto& r : q.resources)
    if (r.path == path) return &r;
  return nullptr;
}

std::string Planner::where(const Relation& rel, const std::vector<g::Condition>& conds,
                           const std::string& alias) {
  std::vector<const g::Field*> fields;
  for (const auto& c : conds) collect_fields(c, fields);
  for (const auto* f : fields) check_column(rel, *f);
  const Relation* saved = current_;
  current_ = &rel;
  std::string out = sql_.conditions(conds, alias, params_);
  current_ = saved;
  return out;
}

std::string Planner::order(const Relation& rel, const std::vector<g::OrderTerm>& terms,
                           const std::string& alias) {
  const Relation* saved = current_;
  current_ = &rel;
  std::string out;
  for (const auto& t : terms) {
    if (!out.empty()) out += ", ";
    if (t.relation.empty()) {
      check_column(rel, t.field);
      out += sql_.order_by({t}, alias);
      continue;
    }
    // order=rel(col): a column of a to-one related row, read with a correlated subquery.
    Relationship r = relationship(rel, t.relation, "");
    if (r.kind != Relationship::Kind::ToOne)
      throw RestError(400, "PGRST118",
                      "A related order on '" + t.relation +
                          "' is not possible: it is not a to-one relationship");
    check_column(*r.target, t.field);
    const std::string o = alias + "_o";
    current_ = r.target;
    std::string expr = sql_.field(t.field, o);  // once: JSON keys become parameters
    current_ = &rel;
    out += "(SELECT " + expr + " FROM " + qualified(*r.target) + " " + o + " WHERE " +
           pairs(o, r.fk->ref_columns, alias, r.fk->columns) + ")" + (t.desc ? " DESC" : " ASC");
    if (t.nulls_first) out += *t.nulls_first ? " NULLS FIRST" : " NULLS LAST";
  }
  current_ = saved;
  return out;
}

Relationship Planner::relationship(const Relation& parent, const std::string& name,
                                   const std::string& hint) const {
  std::vector<Relationship> found;
  auto hinted = [&hint](const ForeignKey& fk, const std::string& junction = {}) {
    return hint.empty() || hint == fk.name || hint == junction ||
           std::find(fk.columns.begin(), fk.columns.end(), hint) != fk.columns.end();
  };
  for (const auto& fk : schema_.foreign_keys) {
    // parent.fk → name: many-to-one
    if (same(parent, fk.schema, fk.table) && fk.ref_table == name && hinted(fk)) {
      if (const Relation* t = schema_.relation(fk.ref_schema, fk.ref_table))
        found.push_back({Relationship::Kind::ToOne, t, &fk, nullptr, nullptr});
    }
    // name.fk → parent: one-to-many
    if (same(parent, fk.ref_schema, fk.ref_table) && fk.table == name && hinted(fk)) {
      if (const Relation* t = schema_.relation(fk.schema, fk.table))
        found.push_back({Relationship::Kind::ToMany, t, &fk, nullptr, nullptr});
    }
  }
  // parent ← junction → name, both keys within the junction's primary key
  for (const auto& j1 : schema_.foreign_keys) {
    if (!same(parent, j1.ref_schema, j1.ref_table)) continue;
    const Relation* junction = schema_.relation(j1.schema, j1.table);
    if (!junction || same(*junction, parent.schema, parent.name) || junction->name == name ||
        !subset(j1.columns, junction->primary_key))
      continue;
    for (const auto& j2 : schema_.foreign_keys) {
      if (&j2 == &j1 || j2.schema != j1.schema || j2.table != j1.table || j2.ref_table != name ||
          !subset(j2.columns, junction->primary_key))
        continue;
      if (!hint.empty() && hint != junction->name && hint != j1.name && hint != j2.name) continue;
      if (const Relation* t = schema_.relation(j2.ref_schema, j2.ref_table))
        found.push_back({Relationship::Kind::ManyToMany, t, &j1, &j2, junction});
    }
  }
  if (found.empty())
    throw RestError(400, "PGRST200",
                    "Could not find a relationship between '" + parent.name + "' and '" + name +
                        "' in the schema cache",
                    hint.empty() ? "" : "Searched with the hint '" + hint + "'",
                    "Check the foreign keys between them, or the spelling of '" + name + "'");
  if (found.size() > 1) {
    std::string details;
    for (const auto& r : found) {
      if (!details.empty()) details += "; ";
      details += r.junction ? r.junction->name + " (" + r.fk->name + ", " + r.fk_target->name + ")"
                            : r.fk->name;
    }
    throw RestError(300, "PGRST201",
                    "Could not embed because more than one relationship was found for '" +
                        parent.name + "' and '" + name + "'",
                    details, "Name one with '" + name + "!<foreign key>(...)'");
  }
  return found.front();
}

void Planner::check_resources(const g::ReadQuery& q) const {
  for (const auto& r : q.resources) {
    if (visited_.count(r.path)) continue;
    std::string name;
    for (const auto& p : r.path) name += (name.empty() ? "" : ".") + p;
    throw RestError(
        400, "PGRST108", "'" + name + "' is not an embedded resource in this request",
        "Filters, order and limits on '" + name + "' need '" + name + "(...)' in select");
  }
}

SelectSql Planner::select(const Relation& rel, const std::string& source,
                          const std::vector<g::SelectItem>& items, const g::ReadQuery& q,
                          const std::vector<std::string>& path,
                          const std::function<std::string(const std::string&)>& join,
                          bool root_paging) {
  const std::string a = alias();
  visited_.insert(path);
  const Relation* saved = current_;
  current_ = &rel;  // column types and computed fields of this level
  SelectSql out;
  out.from = source + " " + a;
  std::vector<std::string> where;
  if (join) where.push_back(join(a));
  std::map<std::string, std::string> embedded;  // name → its "has no rows" condition
  std::string list;
  auto add = [&list](const std::string& item) {
    if (!list.empty()) list += ", ";
    list += item;
  };
  if (items.empty()) add(a + ".*");
  for (const auto& item : items) {
    if (item.kind == g::SelectItem::Kind::Star) {
      add(a + ".*");
    } else if (item.kind == g::SelectItem::Kind::Column) {
      check_column(rel, item.field);
      std::string expr = sql_.field(item.field, a);
      if (!item.cast.empty()) expr = "(" + expr + ")::" + item.cast;
      add(expr + " AS " + quote_ident(item.alias.empty() ? item.field.output_name() : item.alias));
    } else {
      Relationship r = relationship(rel, item.relation, item.hint);
      std::string name = item.alias.empty() ? item.relation : item.alias;
      std::vector<std::string> child_path = path;
      child_path.push_back(name);
      std::function<std::string(const std::string&)> child_join;
      if (r.kind == Relationship::Kind::ToOne) {
        child_join = [&r, &a](const std::string& c) {
          return pairs(c, r.fk->ref_columns, a, r.fk->columns);
        };
      } else if (r.kind == Relationship::Kind::ToMany) {
        child_join = [&r, &a](const std::string& c) {
          return pairs(c, r.fk->columns, a, r.fk->ref_columns);
        };
      } else {
        child_join = [&r, &a](const std::string& c) {
          return "EXISTS (SELECT 1 FROM " + qualified(*r.junction) + " " + c + "_j WHERE " +
                 pairs(c + "_j", r.fk->columns, a, r.fk->ref_columns) + " AND " +
                 pairs(c + "_j", r.fk_target->columns, c, r.fk_target->ref_columns) + ")";
        };
      }
      // rel(count): PostgREST's count aggregate over the related rows ([{"count": n}]), when
      // `count` is not a column of rel.
      bool count_only = item.children.size() == 1 && !item.spread &&
                        item.children[0].kind == g::SelectItem::Kind::Column &&
                        item.children[0].field.name == "count" &&
                        item.children[0].field.path.empty() && item.children[0].cast.empty() &&
                        !r.target->column("count");
      std::vector<g::SelectItem> none;
      SelectSql child = select(*r.target, qualified(*r.target), count_only ? none : item.children,
                               q, child_path, child_join, false);
      current_ = &rel;
      std::string e = alias();
      if (count_only) {
        std::string key = item.children[0].alias.empty() ? "count" : item.children[0].alias;
        std::string obj = "json_build_object(" + params_.add(key) + "::text, count(*))";
        child.list = "1";
        out.from += " LEFT JOIN LATERAL (SELECT " +
                    (r.kind == Relationship::Kind::ToOne ? obj : "json_build_array(" + obj + ")") +
                    " AS body FROM (" + child.full() + ") " + e + "_s) " + e + " ON TRUE";
        add(e + ".body AS " + quote_ident(name));
        continue;
      }
      if (item.spread) {
        if (r.kind != Relationship::Kind::ToOne)
          throw RestError(400, "PGRST119",
                          "A spread operation on '" + item.relation +
                              "' is only possible when it is a to-one relationship");
        out.from += " LEFT JOIN LATERAL (" + child.full() + ") " + e + " ON TRUE";
        add(e + ".*");
      } else if (r.kind == Relationship::Kind::ToOne) {
        out.from += " LEFT JOIN LATERAL (SELECT row_to_json(" + e + "_s.*) AS body FROM (" +
                    child.full() + ") " + e + "_s) " + e + " ON TRUE";
        add(e + ".body AS " + quote_ident(name));
        embedded[name] = e + ".body IS NULL";
        if (item.inner) where.push_back(e + ".body IS NOT NULL");
      } else {
        out.from += " LEFT JOIN LATERAL (SELECT coalesce(json_agg(" + e +
                    "_s.*), '[]') AS body FROM (" + child.full() + ") " + e + "_s) " + e +
                    " ON TRUE";
        add(e + ".body AS " + quote_ident(name));
        embedded[name] = "json_array_length(" + e + ".body) = 0";
        if (item.inner) where.push_back("json_array_length(" + e + ".body) > 0");
      }
    }
  }
  out.list = list;
  if (const auto* res = resource(q, path)) {
    // rel=is.null / rel=not.is.null on an embedded resource: rows without (with) related rows
    std::vector<g::Condition> own;
    for (const auto& c : res->where) {
      const auto* f = std::get_if<g::Filter>(&c);
      auto e = f && f->field.path.empty() && f->op == "is" ? embedded.find(f->field.name)
                                                           : embedded.end();
      if (e == embedded.end() || (f->value != "null" && f->value != "not_null")) {
        own.push_back(c);
        continue;
      }
      bool none = (f->value == "null") != f->negated;
      where.push_back(none ? e->second : "NOT (" + e->second + ")");
    }
    if (!own.empty()) where.push_back(this->where(rel, own, a));
    out.order = order(rel, res->order, a);
    if (!root_paging) {
      if (res->limit) out.paging = "LIMIT " + std::to_string(*res->limit);
      if (res->offset) out.paging += " OFFSET " + std::to_string(*res->offset);
    }
  }
  out.where.clear();
  for (const auto& w : where) out.where += (out.where.empty() ? "(" : " AND (") + w + ")";
  if (out.where.empty()) out.where = "TRUE";
  current_ = saved;
  return out;
}

}  // namespace database::rest
