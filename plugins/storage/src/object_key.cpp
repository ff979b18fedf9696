#include "object_key.hpp"

#include "errors.hpp"

namespace storage {

std::string object_name_problem(const std::string& name) {
  if (name.empty()) return "the object name is empty";
  if (name.size() > 1024) return "the object name is longer than 1024 bytes";
  if (name.front() == '/') return "the object name starts with '/'";
  for (unsigned char ch : name)
    if (ch < 0x20 || ch == 0x7f) return "the object name contains a control character or NUL";
  // A path separator elsewhere ("..\\x"): refused like Supabase's key check does.
  if (name.find('\\') != std::string::npos) return "the object name contains a backslash";
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string::npos) slash = name.size();
    std::string segment = name.substr(start, slash - start);
    if (segment.empty()) {
      if (slash == name.size()) return "the object name ends with '/'";
      return "the object name has an empty segment ('//')";
    }
    if (segment == "." || segment == "..") return "the object name has a '.' or '..' segment";
    start = slash + 1;
  }
  return {};
}

std::string checked_object_name(const std::string& name, const char* field) {
  std::string why = object_name_problem(name);
  if (why.empty()) return name;
  std::string message = "Invalid key";
  if (field) message += std::string(" (") + field + ")";
  throw StorageError(400, "InvalidKey", message + ": " + why);
}

}  // namespace storage
