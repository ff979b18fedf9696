#include "json_body.hpp"

#include <Poco/JSON/Parser.h>

#include "errors.hpp"

namespace storage {

Poco::JSON::Object::Ptr parse_json_object(const std::string& text) {
  try {
    Poco::JSON::Parser p;
    auto v = p.parse(text);
    if (v.type() == typeid(Poco::JSON::Object::Ptr)) return v.extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {
  }
  return nullptr;
}

Poco::JSON::Object::Ptr json_body(alpaca::Request& req) {
  std::string body = req.body();
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return new Poco::JSON::Object;
  auto o = parse_json_object(body);
  if (!o) throw StorageError(400, "InvalidJSON", "The request body must be a JSON object");
  return o;
}

std::string text_field(const Poco::JSON::Object& o, const char* key) {
  if (!o.has(key) || o.isNull(key)) return {};
  auto v = o.get(key);
  if (!v.isString())
    throw StorageError(400, "InvalidRequest", std::string(key) + " must be a string");
  return v.extract<std::string>();
}

int64_t count_field(const Poco::JSON::Object& o, const char* key, int64_t fallback, int64_t max) {
  if (!o.has(key) || o.isNull(key)) return fallback;
  auto v = o.get(key);
  if (!v.isInteger() || v.convert<int64_t>() < 0)
    throw StorageError(400, "InvalidRequest", std::string(key) + " must be a whole number >= 0");
  return std::min(v.convert<int64_t>(), max);
}

std::vector<std::string> text_list_field(const Poco::JSON::Object& o, const char* key) {
  auto a = o.has(key) ? o.getArray(key) : nullptr;
  if (!a) throw StorageError(400, "InvalidRequest", std::string(key) + " must be an array");
  std::vector<std::string> out;
  for (const auto& v : *a) {
    if (!v.isString())
      throw StorageError(400, "InvalidRequest", std::string(key) + " must hold strings");
    out.push_back(v.extract<std::string>());
  }
  return out;
}

std::string json_text_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    out += '"';
    out += alpaca::json_escape(item);
    out += '"';
  }
  out += ']';
  return out;
}

}  // namespace storage
