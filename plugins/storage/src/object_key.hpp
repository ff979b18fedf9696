#pragma once
// Object names as users give them ("folder/photo.png"). They only ever live in storage.objects;
// blobs are stored under keys the blob store makes. Still, names that would be traversal on a
// file system or S3 (a "." or ".." segment, a leading "/", an empty segment, a backslash, NUL or
// control characters) are refused, as the issue asks, on upload, move and copy.
#include <string>

namespace storage {

// "" when `name` is acceptable, else why not (for a 400).
std::string object_name_problem(const std::string& name);

}  // namespace storage
