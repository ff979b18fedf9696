#include "grammar/parser.hpp"

#include <algorithm>
#include <cctype>

namespace database::grammar {

namespace {

const std::set<std::string_view> kOperators = {
    "eq",     "neq", "gt",         "gte", "lt",    "lte",   "like", "ilike", "match",
    "imatch", "is",  "isdistinct", "in",  "cs",    "cd",    "ov",   "sl",    "sr",
    "nxl",    "nxr", "adj",        "fts", "plfts", "phfts", "wfts"};
// Operators that take (any)/(all) and a {..} list, as PostgREST.
const std::set<std::string_view> kQuantifiable = {"eq",  "neq",  "gt",    "gte",   "lt",
                                                  "lte", "like", "ilike", "match", "imatch"};
const std::set<std::string_view> kFullText = {"fts", "plfts", "phfts", "wfts"};
const std::set<std::string_view> kIsValues = {"null", "not_null", "true", "false", "unknown"};

std::string quoted(std::string_view s) {
  std::string out = "'";
  out += s;
  out += '\'';
  return out;
}

// A cursor over one parameter's text; errors name the parameter and where parsing stopped.
class Cursor {
 public:
  Cursor(std::string_view text, std::string what) : s_(text), what_(std::move(what)) {}
  bool done() const { return i_ >= s_.size(); }
  char peek(size_t ahead = 0) const { return i_ + ahead < s_.size() ? s_[i_ + ahead] : '\0'; }
  bool starts(std::string_view t) const { return s_.substr(i_).substr(0, t.size()) == t; }
  bool eat(std::string_view t) {
    if (!starts(t)) return false;
    i_ += t.size();
    return true;
  }
  void expect(std::string_view t, std::string_view expected) {
    if (!eat(t)) fail("expected " + std::string(expected));
  }
  void skip_spaces() {
    while (!done() && (peek() == ' ' || peek() == '\t' || peek() == '\n')) ++i_;
  }
  size_t pos() const { return i_; }
  std::string_view text() const { return s_; }
  std::string_view rest() const { return s_.substr(i_); }
  std::string_view take(size_t n) {
    auto out = s_.substr(i_, n);
    i_ += out.size();
    return out;
  }
  [[noreturn]] void fail(const std::string& why) const {
    std::string at = done() ? "at the end" : "at " + quoted(s_.substr(i_, 20));
    throw ParseError("Failed to parse " + what_, why + " " + at + " of " + quoted(s_) +
                                                     " (position " + std::to_string(i_ + 1) + ")");
  }

  // "..." with \" and \\ escapes.
  std::string quoted_string() {
    expect("\"", "'\"'");
    std::string out;
    while (!done() && peek() != '"') {
      if (peek() == '\\' && i_ + 1 < s_.size()) ++i_;
      out += s_[i_++];
    }
    expect("\"", "a closing '\"'");
    return out;
  }

  // A name: "quoted" or a run of characters up to a delimiter. `->` always ends a name (a
  // JSON path follows); a lone '-' does not (PostgREST allows dashes in names).
  std::string name(std::string_view delimiters, std::string_view expected) {
    if (peek() == '"') return quoted_string();
    size_t start = i_;
    while (!done()) {
      char c = peek();
      if (delimiters.find(c) != std::string_view::npos) break;
      if (c == '-' && peek(1) == '>') break;
      if (c == ':' && peek(1) == ':') break;
      ++i_;
    }
    std::string out(s_.substr(start, i_ - start));
    // Spaces around names are not part of them (select=id, name).
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out.erase(0, out.find_first_not_of(' ') == std::string::npos ? out.size()
                                                                 : out.find_first_not_of(' '));
    if (out.empty()) fail("expected " + std::string(expected));
    return out;
  }

 private:
  std::string_view s_;
  std::string what_;
  size_t i_ = 0;
};

constexpr std::string_view kNameEnd = ".,()!:\"";

// name, then ->key / ->>key steps; stops at the first character that is not part of either.
Field field_at(Cursor& c, std::string_view delimiters = kNameEnd) {
  Field f;
  f.name = c.name(delimiters, "a column name");
  while (c.starts("->")) {
    JsonStep step;
    step.as_text = c.eat("->>");
    if (!step.as_text) c.eat("->");
    if (c.peek() == '-' && std::isdigit(static_cast<unsigned char>(c.peek(1)))) {
      c.take(1);
      step.key = "-" + c.name(delimiters, "a JSON key");
    } else {
      step.key = c.name(delimiters, "a JSON key after '->'");
    }
    f.path.push_back(std::move(step));
  }
  return f;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) {
    return std::isdigit(static_cast<unsigned char>(ch));
  });
}

// Items of (a,b,"c,d") or {a,b}: quoted items may hold the separators.
std::vector<std::string> list_at(Cursor& c, char open, char close) {
  std::vector<std::string> out;
  c.expect(std::string_view(&open, 1), std::string("'") + open + "'");
  if (c.eat(std::string_view(&close, 1))) return out;
  while (true) {
    std::string item;
    if (c.peek() == '"') {
      item = c.quoted_string();
    } else {
      while (!c.done() && c.peek() != ',' && c.peek() != close) item += c.take(1);
    }
    out.push_back(std::move(item));
    if (c.eat(",")) continue;
    c.expect(std::string_view(&close, 1), std::string("',' or '") + close + "'");
    return out;
  }
}

// [not.]op[(mod)].value, the value running to the end of the cursor's text.
Filter filter_at(Field field, Cursor& c) {
  Filter f;
  f.field = std::move(field);
  if (c.eat("not.")) f.negated = true;
  while (!c.done() && std::isalpha(static_cast<unsigned char>(c.peek()))) f.op += c.take(1);
  if (f.op.empty()) c.fail("expected an operator (eq, neq, gt, in, is, ...)");
  if (!kOperators.count(f.op))
    throw ParseError("Unknown operator '" + f.op + "' in the filter on " + quoted(f.field.name),
                     quoted(c.text()) +
                         ": operators are eq neq gt gte lt lte like ilike match "
                         "imatch is isdistinct in cs cd ov sl sr nxl nxr adj fts plfts phfts wfts, "
                         "each optionally after 'not.'");
  if (c.peek() == '(') {
    c.take(1);
    std::string mod =
        c.name(")", kFullText.count(f.op) ? "a text search language" : "'any' or 'all'");
    c.expect(")", "')'");
    if (kFullText.count(f.op)) {
      f.language = mod;
    } else if (kQuantifiable.count(f.op) && (mod == "any" || mod == "all")) {
      f.quantifier = mod;
    } else {
      c.fail("'" + f.op + "' takes no modifier '" + mod + "'");
    }
  }
  c.expect(".", "'.' and a value after the operator '" + f.op + "'");
  if (f.op == "in") {
    f.list = list_at(c, '(', ')');
    if (!c.done()) c.fail("unexpected text after the list");
  } else if (!f.quantifier.empty()) {
    f.list = list_at(c, '{', '}');
    if (!c.done()) c.fail("unexpected text after the list");
  } else {
    f.value = std::string(c.rest());
    c.take(f.value.size());
    if (f.op == "is" && !kIsValues.count(f.value))
      throw ParseError("Invalid value for 'is' in the filter on " + quoted(f.field.name),
                       quoted(c.text()) + ": 'is' takes null, not_null, true, false or unknown");
  }
  return f;
}

LogicTree logic_at(bool is_or, bool negated, Cursor& c);

// One member of a logic tree: [not.]and(...), [not.]or(...) or col.[not.]op.value.
Condition condition_at(Cursor& c) {
  bool negated = false;
  if (c.starts("not.and(") || c.starts("not.or(")) negated = c.eat("not.");
  if (c.eat("and")) return logic_at(false, negated, c);
  if (c.eat("or")) return logic_at(true, negated, c);
  Field field = field_at(c);
  c.expect(".", "'.' and an operator after the column '" + field.name + "'");
  // The filter's text runs to the next ',' or ')' outside quotes, parentheses and braces.
  int depth = 0;
  bool in_quotes = false;
  std::string text;
  while (!c.done()) {
    char ch = c.peek();
    if (in_quotes) {
      if (ch == '\\')
        text += c.take(1);
      else if (ch == '"')
        in_quotes = false;
    } else if (ch == '"') {
      in_quotes = true;
    } else if (ch == '(' || ch == '{') {
      ++depth;
    } else if ((ch == ')' || ch == '}') && depth > 0) {
      --depth;
    } else if (depth == 0 && (ch == ',' || ch == ')')) {
      break;
    }
    text += c.take(1);
  }
  Cursor inner(text, "the filter " + quoted(field.name + "." + text));
  Filter f = filter_at(std::move(field), inner);
  // In a logic tree a whole value may be quoted to hold ',' or ')'.
  if (f.list.empty() && f.value.size() >= 2 && f.value.front() == '"' && f.value.back() == '"') {
    Cursor q(f.value, "a quoted value");
    f.value = q.quoted_string();
    if (!q.done()) q.fail("unexpected text after the quoted value");
  }
  return f;
}

// Nesting deeper than this is refused: the parser and the SQL built from it recurse.
constexpr int kMaxDepth = 32;

// Counts one level of nesting for the life of a parse function.
class Depth {
 public:
  explicit Depth(const Cursor& c) {
    if (++level() > kMaxDepth) {
      --level();
      c.fail("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    }
  }
  ~Depth() { --level(); }
  Depth(const Depth&) = delete;

 private:
  static int& level() {
    thread_local int depth = 0;
    return depth;
  }
};

LogicTree logic_at(bool is_or, bool negated, Cursor& c) {
  Depth depth(c);
  LogicTree t;
  t.is_or = is_or;
  t.negated = negated;
  c.expect("(", "'(' to open the list of conditions");
  do {
    t.children.push_back(condition_at(c));
  } while (c.eat(","));
  c.expect(")", "',' or ')'");
  return t;
}

std::string cast_at(Cursor& c) {
  std::string t;
  while (!c.done() && (std::isalnum(static_cast<unsigned char>(c.peek())) || c.peek() == '_'))
    t += c.take(1);
  if (t.empty()) c.fail("expected a type name (letters, digits, '_') after '::'");
  return t;
}

std::vector<SelectItem> select_list_at(Cursor& c, bool nested);

SelectItem select_item_at(Cursor& c) {
  c.skip_spaces();
  SelectItem item;
  if (c.eat("*")) {
    item.kind = SelectItem::Kind::Star;
    return item;
  }
  if (c.eat("...")) item.spread = true;
  Field first = field_at(c);
  // alias:rest (a single ':' — '::' is a cast)
  if (c.peek() == ':' && c.peek(1) != ':') {
    if (!first.path.empty()) c.fail("an alias cannot contain '->'");
    c.take(1);
    item.alias = first.name;
    first = field_at(c);
  }
  if (c.peek() == '!' || c.peek() == '(') {
    if (!first.path.empty()) c.fail("an embedded resource cannot have a JSON path");
    item.kind = SelectItem::Kind::Embed;
    item.relation = first.name;
    while (c.eat("!")) {
      std::string word = c.name(kNameEnd, "a foreign key, column or 'inner' after '!'");
      if (word == "inner")
        item.inner = true;
      else if (word == "left")
        item.inner = false;
      else if (item.hint.empty())
        item.hint = word;
      else
        c.fail("more than one hint for '" + item.relation + "'");
    }
    c.expect("(", "'(' and the embedded resource's columns");
    item.children = select_list_at(c, true);
    c.expect(")", "')' to close the embedded resource");
    return item;
  }
  if (item.spread) c.fail("'...' must be followed by an embedded resource 'rel(cols)'");
  item.field = std::move(first);
  if (c.eat("::")) item.cast = cast_at(c);
  c.skip_spaces();
  return item;
}

std::vector<SelectItem> select_list_at(Cursor& c, bool nested) {
  Depth depth(c);
  std::vector<SelectItem> items;
  if (nested && c.peek() == ')') return items;  // rel() selects nothing of rel
  do {
    items.push_back(select_item_at(c));
    c.skip_spaces();
  } while (c.eat(","));
  return items;
}

OrderTerm order_term_at(Cursor& c) {
  OrderTerm t;
  c.skip_spaces();
  Field first = field_at(c, ".,()\"");
  if (c.eat("(")) {
    if (!first.path.empty()) c.fail("a relation cannot have a JSON path");
    t.relation = first.name;
    t.field = field_at(c, ".,()\"");
    c.expect(")", "')' after the related column");
  } else {
    t.field = std::move(first);
  }
  for (int i = 0; i < 2 && c.eat("."); ++i) {
    std::string word = c.name(".,", "asc, desc, nullsfirst or nullslast");
    if (i == 0 && (word == "asc" || word == "desc")) {
      t.desc = word == "desc";
    } else if (word == "nullsfirst" || word == "nullslast") {
      t.nulls_first = word == "nullsfirst";
      break;
    } else {
      throw ParseError("Failed to parse order", "unexpected '" + word + "' after '" + t.field.name +
                                                    "': expected asc, desc, nullsfirst or "
                                                    "nullslast");
    }
  }
  c.skip_spaces();
  return t;
}

ResourceQuery& resource(ReadQuery& q, const std::vector<std::string>& path) {
  for (auto& r : q.resources)
    if (r.path == path) return r;
  q.resources.push_back(ResourceQuery{path, {}, {}, {}, {}});
  return q.resources.back();
}

// "rel.sub.name" → {"rel","sub"}, "name"; dots inside quotes or after '->' belong to the name.
std::pair<std::vector<std::string>, std::string> split_key(const std::string& key) {
  std::vector<std::string> parts;
  std::string cur;
  bool in_quotes = false, in_json = false;
  for (size_t i = 0; i < key.size(); ++i) {
    char ch = key[i];
    if (ch == '"') in_quotes = !in_quotes;
    if (!in_quotes && ch == '-' && i + 1 < key.size() && key[i + 1] == '>') in_json = true;
    if (ch == '.' && !in_quotes && !in_json) {
      parts.push_back(cur);
      cur.clear();
      continue;
    }
    cur += ch;
  }
  parts.push_back(cur);
  // not.or / not.and are one name
  if (parts.size() >= 2 && parts[parts.size() - 2] == "not" &&
      (parts.back() == "or" || parts.back() == "and")) {
    std::string op = parts.back();
    parts.pop_back();
    parts.back() = "not." + op;
  }
  std::string last = parts.back();
  parts.pop_back();
  return {parts, last};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      int hi = i + 1 < s.size() ? hex_value(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        throw ParseError("Malformed query string",
                         "'%' must be followed by two hex digits in " + quoted(s));
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  if (out.find('\0') != std::string::npos)
    throw ParseError("Malformed query string", "NUL bytes are not allowed in " + quoted(s));
  return out;
}

}  // namespace

QueryPairs split_query_string(std::string_view raw) {
  QueryPairs out;
  size_t i = 0;
  while (i <= raw.size()) {
    size_t amp = raw.find('&', i);
    if (amp == std::string_view::npos) amp = raw.size();
    std::string_view part = raw.substr(i, amp - i);
    if (!part.empty()) {
      size_t eq = part.find('=');
      std::string key = percent_decode(part.substr(0, eq));
      std::string value = eq == std::string_view::npos ? "" : percent_decode(part.substr(eq + 1));
      out.emplace_back(std::move(key), std::move(value));
    }
    i = amp + 1;
  }
  return out;
}

Field parse_field(std::string_view text) {
  Cursor c(text, "the column " + quoted(text));
  Field f = field_at(c);
  if (!c.done()) c.fail("unexpected character");
  return f;
}

std::vector<SelectItem> parse_select(std::string_view text) {
  Cursor c(text, "the select parameter");
  auto items = select_list_at(c, false);
  if (!c.done()) c.fail("unexpected character");
  return items;
}

Filter parse_filter(Field field, std::string_view text) {
  Cursor c(text, "the filter on " + quoted(field.name));
  return filter_at(std::move(field), c);
}

LogicTree parse_logic(bool is_or, bool negated, std::string_view text) {
  Cursor c(text, std::string("the logic tree ") + (negated ? "not." : "") + (is_or ? "or" : "and"));
  LogicTree t = logic_at(is_or, negated, c);
  if (!c.done()) c.fail("unexpected text after the closing ')'");
  return t;
}

std::vector<OrderTerm> parse_order(std::string_view text) {
  Cursor c(text, "the order parameter");
  std::vector<OrderTerm> terms;
  do {
    terms.push_back(order_term_at(c));
  } while (c.eat(","));
  if (!c.done()) c.fail("unexpected character");
  return terms;
}

int64_t parse_count(std::string_view what, std::string_view text) {
  if (!all_digits(text) || text.size() > 18)
    throw ParseError("Invalid " + std::string(what),
                     std::string(what) + " must be a non-negative integer, got " + quoted(text));
  return std::stoll(std::string(text));
}

ReadQuery parse_read_query(const QueryPairs& pairs, const std::set<std::string>& reserved) {
  ReadQuery q;
  q.resources.push_back(ResourceQuery{});
  bool have_select = false;
  for (const auto& [key, value] : pairs) {
    if (reserved.count(key)) {
      q.other.emplace_back(key, value);
      continue;
    }
    if (key == "select") {
      if (have_select) throw ParseError("Duplicate parameter 'select'", "Give select once");
      have_select = true;
      q.select = parse_select(value);
      continue;
    }
    auto [path, name] = split_key(key);
    if (name.empty() || std::any_of(path.begin(), path.end(), [](auto& p) { return p.empty(); }))
      throw ParseError("Failed to parse the parameter " + quoted(key), "Empty name");
    ResourceQuery& r = resource(q, path);
    if (name == "order") {
      auto terms = parse_order(value);
      r.order.insert(r.order.end(), terms.begin(), terms.end());
    } else if (name == "limit") {
      r.limit = parse_count("limit", value);
    } else if (name == "offset") {
      r.offset = parse_count("offset", value);
    } else if (name == "or" || name == "and" || name == "not.or" || name == "not.and") {
      bool negated = name.rfind("not.", 0) == 0;
      r.where.push_back(parse_logic(name.ends_with("or"), negated, value));
    } else {
      r.where.push_back(parse_filter(parse_field(name), value));
    }
  }
  return q;
}

}  // namespace database::grammar
