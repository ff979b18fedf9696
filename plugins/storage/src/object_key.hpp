#pragma once
// Object names as users give them ("folder/photo.png"). They only ever live in storage.objects;
// blobs are stored under keys the blob store makes. Still, names that would be traversal on a
// file system or S3 (a "." or ".." segment, a leading "/", an empty segment, a backslash, NUL or
// control characters) are refused, as the issue asks, on upload, move and copy.
#include <alpaca/plugin.hpp>
#include <string>

namespace storage {

// "" when `name` is acceptable, else why not (for a 400).
std::string object_name_problem(const std::string& name);

// `name`, or a 400 InvalidKey saying what is wrong (`field`: which part of the request).
std::string checked_object_name(const std::string& name, const char* field = nullptr);
// The checked name of a route's `*path`.
inline std::string path_object_name(alpaca::Request& req) {
  return checked_object_name(std::string(req.param("path")));
}

}  // namespace storage
