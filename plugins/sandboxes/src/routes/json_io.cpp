#include "json_io.hpp"

#include <Poco/JSON/Parser.h>

namespace sandboxes {

Poco::JSON::Object::Ptr json_object_body(alpaca::Request& req) {
  std::string body = req.body();
  if (body.empty()) throw alpaca::HttpError(400, "Missing request body", "A JSON object is needed");
  Poco::Dynamic::Var v;
  try {
    v = Poco::JSON::Parser().parse(body);
  } catch (const std::exception& e) {
    throw alpaca::HttpError(400, "Invalid JSON", e.what());
  }
  if (v.type() != typeid(Poco::JSON::Object::Ptr))
    throw alpaca::HttpError(400, "Invalid JSON", "The body must be a JSON object");
  return v.extract<Poco::JSON::Object::Ptr>();
}

std::string optional_string(const Poco::JSON::Object::Ptr& o, const char* key, bool* present) {
  if (present) *present = false;
  if (!o->has(key) || o->isNull(key)) return {};
  Poco::Dynamic::Var v = o->get(key);
  if (!v.isString()) throw alpaca::HttpError(400, std::string("'") + key + "' must be a string");
  if (present) *present = true;
  return v.convert<std::string>();
}

std::string valid_utf8(const std::string& s, bool* was_valid) {
  std::string out;
  out.reserve(s.size());
  bool ok = true;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    bool good = len > 0 && i + len <= s.size();
    for (size_t k = 1; good && k < len; ++k)
      good = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    if (good && len > 1) {
      // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
      uint32_t cp = c & (0xff >> (len + 1));
      for (size_t k = 1; k < len; ++k)
        cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
      static const uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
      good = cp >= min_for_len[len] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
    }
    if (good) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ok = false;
      ++i;
    }
  }
  if (was_valid) *was_valid = ok;
  return out;
}

}  // namespace sandboxes
