#pragma once
// Plans one /rest/v1 read as SQL: the select list (columns, casts, JSON paths, embedded
// resources through foreign keys as LEFT JOIN LATERAL subqueries that build their JSON in
// Postgres), the conditions, order and paging of the root and of each embedded resource.
// Every name is checked against the schema cache first (unknown → RestError), every value is a
// parameter.
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "grammar/ast.hpp"
#include "grammar/sql_builder.hpp"
#include "rest/schema.hpp"

namespace database::rest {

struct Relationship {
  enum class Kind { ToOne, ToMany, ManyToMany };
  Kind kind = Kind::ToOne;
  const Relation* target = nullptr;
  const ForeignKey* fk = nullptr;         // ToOne: parent → target; ToMany: target → parent;
                                          // ManyToMany: junction → parent
  const ForeignKey* fk_target = nullptr;  // ManyToMany: junction → target
  const Relation* junction = nullptr;
};

// The parts of "SELECT list FROM from WHERE where ORDER BY order LIMIT/OFFSET paging".
struct SelectSql {
  std::string list, from, where, order, paging;
  std::string full() const;
  std::string count() const;  // SELECT count(*) over from/where
};

class Planner {
 public:
  Planner(const Schema& schema, grammar::SqlParams& params);

  // `source`: the quoted relation, or a CTE name (writes' RETURNING rows) read as `rel`.
  // `path`: the resource path of these items (empty for the root) for rel.col=… parameters.
  // `join`: the condition tying this level to its parent, given this level's alias ("" root).
  SelectSql select(const Relation& rel, const std::string& source,
                   const std::vector<grammar::SelectItem>& items, const grammar::ReadQuery& q,
                   const std::vector<std::string>& path,
                   const std::function<std::string(const std::string&)>& join, bool root_paging);

  // Checks the conditions and order of the root against `rel` and renders them over `alias`.
  std::string where(const Relation& rel, const std::vector<grammar::Condition>& conds,
                    const std::string& alias);
  std::string order(const Relation& rel, const std::vector<grammar::OrderTerm>& terms,
                    const std::string& alias);

  Relationship relationship(const Relation& parent, const std::string& name,
                            const std::string& hint) const;
  void check_column(const Relation& rel, const grammar::Field& f) const;
  std::string alias() { return "_pgrst_" + std::to_string(next_alias_++); }
  grammar::SqlBuilder& builder() { return sql_; }
  // PGRST108 for a rel.col=… parameter whose rel is not embedded in the select.
  void check_resources(const grammar::ReadQuery& q) const;

 private:
  const grammar::ResourceQuery* resource(const grammar::ReadQuery& q,
                                         const std::vector<std::string>& path) const;
  const Schema& schema_;
  grammar::SqlParams& params_;
  const Relation* current_ = nullptr;  // for column types (full-text search)
  grammar::SqlBuilder sql_;
  int next_alias_ = 0;
  std::set<std::vector<std::string>> visited_;
};

}  // namespace database::rest
