#pragma once
// Foreign keys through views: which table column each column of a view passes through
// unchanged (read from the view's stored query tree, pg_rewrite.ev_action as text), and the
// table's foreign keys repeated for every view that shows all of a key's columns. PostgREST does
// the same, so `post_titles?select=title,users(name)` embeds through a view.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rest/schema.hpp"

namespace database::rest {

struct ColumnOrigin {
  uint32_t relation = 0;  // pg_class oid of the table (or the inner view) the column comes from
  int column = 0;         // its attnum there
};

// view attnum → origin, for the top-level target list only (expressions and sub-selects have no
// origin). A tree that cannot be read gives an empty map: the view then has no relationships.
std::map<int, ColumnOrigin> view_origins(const std::string& tree);

struct TableKey {  // a foreign key with the oids and attnums of both sides
  ForeignKey fk;
  uint32_t relation = 0, ref_relation = 0;
  std::vector<int> keys, ref_keys;
};

struct View {
  uint32_t oid = 0;
  std::string schema, name;
  std::map<int, std::string> columns;  // attnum → name
  std::string tree;                    // pg_rewrite.ev_action::text
};

// The keys as they are, then each key seen through views: view → table, table → view and
// view → view, named as the key. A view showing a table column twice uses its first column.
std::vector<ForeignKey> with_view_keys(const std::vector<TableKey>& keys,
                                       const std::vector<View>& views);

}  // namespace database::rest
