// Files of a running box, reached from the host through its root (an O_PATH descriptor of
// /proc/<init>/root taken when the box started, so a reused pid can never redirect it) with
// openat2's RESOLVE_IN_ROOT: "..", absolute symlinks and relative ones all resolve inside the box,
// and /proc magic links are refused, so no path can name a host file.
#pragma once

#include <sys/types.h>

#include <string>

namespace sandboxes {

// Checks a box path (absolute, no "..", no NUL, not under /proc, /sys or /dev); returns it
// without the leading '/'. Throws BoxError(400).
std::string checked_box_path(const std::string& path);

// Reads a regular file. Throws BoxError 400 (directory, symlink loop, bad path), 404, 413.
std::string read_box_file(int root_fd, const std::string& path, size_t max_bytes, uid_t uid,
                          gid_t gid);

// Writes a file (parent directories made) as the box user (`uid`/`gid` as the host sees it).
// Throws BoxError 400, 403 (read-only), 404 (box gone), 507 (full).
void write_box_file(int root_fd, const std::string& path, const std::string& data, uid_t uid,
                    gid_t gid);

}  // namespace sandboxes
