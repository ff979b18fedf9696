#include "box_files.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "driver.hpp"

namespace sandboxes {

namespace {

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

int openat2_in(int dirfd, const std::string& rel, int flags, mode_t mode = 0) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC | O_LARGEFILE;
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(
      ::syscall(SYS_openat2, dirfd, rel.empty() ? "." : rel.c_str(), &how, sizeof how));
}

[[noreturn]] void fail_errno(const std::string& path) {
  int e = errno;
  switch (e) {
    case ENOENT:
      throw BoxError(404, "File not found", "No file " + path + " in the sandbox");
    case ENOTDIR:
      throw BoxError(404, "File not found", "A parent of " + path + " is not a directory");
    case EROFS:
    case EACCES:
    case EPERM:
      throw BoxError(403, "Read-only location",
                     path + " cannot be written: only /app, /home/user and /tmp are writable");
    case ENOSPC:
    case EDQUOT:
      throw BoxError(507, "Sandbox disk full", "No space left for " + path);
    case ELOOP:
      throw BoxError(400, "Invalid path", path + " is a symbolic link or has too many of them");
    case EISDIR:
      throw BoxError(400, "Invalid path", path + " is a directory");
    case EXDEV:
      throw BoxError(400, "Invalid path", path + " leaves the sandbox");
    default:
      throw BoxError(500, "Cannot access the sandbox's files", path + ": " + std::strerror(e));
  }
}

// Acts on the box's files as the box user (this thread only: setfsuid is per thread). Root
// could not create files there anyway, since host root is not mapped in the box's user
// namespace (EOVERFLOW), and as the box user nothing can be written that the box could not.
class AsBoxUser {
 public:
  AsBoxUser(uid_t uid, gid_t gid)
      : old_gid_(static_cast<gid_t>(::syscall(SYS_setfsgid, gid))),
        old_uid_(static_cast<uid_t>(::syscall(SYS_setfsuid, uid))) {}
  ~AsBoxUser() {
    ::syscall(SYS_setfsuid, old_uid_);
    ::syscall(SYS_setfsgid, old_gid_);
  }
  AsBoxUser(const AsBoxUser&) = delete;
  AsBoxUser& operator=(const AsBoxUser&) = delete;

 private:
  gid_t old_gid_;
  uid_t old_uid_;
};

}  // namespace

std::string checked_box_path(const std::string& path) {
  auto bad = [&](const std::string& why) { throw BoxError(400, "Invalid path", why); };
  if (path.empty() || path[0] != '/') bad("Paths are absolute inside the sandbox: " + path);
  if (path.find('\0') != std::string::npos) bad("The path contains a NUL byte");
  if (path.size() > 4096) bad("The path is longer than 4096 bytes");
  std::string rel;
  size_t i = 1;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string seg = path.substr(i, j - i);
    if (seg == "..") bad("'..' is not allowed in sandbox paths: " + path);
    if (!seg.empty() && seg != ".") {
      if (!rel.empty()) rel += '/';
      rel += seg;
    }
    i = j + 1;
  }
  std::string top = rel.substr(0, rel.find('/'));
  if (top == "proc" || top == "sys" || top == "dev")
    bad("/" + top + " is not reachable through the files API");
  return rel;
}

std::string read_box_file(int root_fd, const std::string& path, size_t max_bytes, uid_t uid,
                          gid_t gid) {
  std::string rel = checked_box_path(path);
  AsBoxUser as(uid, gid);
  Fd fd(openat2_in(root_fd, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK));
  if (fd.fd < 0) fail_errno(path);
  struct stat st;
  if (::fstat(fd.fd, &st) != 0) fail_errno(path);
  if (S_ISDIR(st.st_mode)) throw BoxError(400, "Is a directory", path + " is a directory");
  if (!S_ISREG(st.st_mode)) throw BoxError(400, "Not a regular file", path + " is not a file");
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    throw BoxError(413, "File too large",
                   path + " has " + std::to_string(st.st_size) + " bytes; the limit is " +
                       std::to_string(max_bytes));
  std::string out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd.fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += size_t(n);
  }
  out.resize(got);
  return out;
}

void write_box_file(int root_fd, const std::string& path, const std::string& data, uid_t uid,
                    gid_t gid) {
  std::string rel = checked_box_path(path);
  if (rel.empty()) throw BoxError(400, "Invalid path", "A file path is needed, not /");
  AsBoxUser as(uid, gid);
  // Parent directories, one level at a time, each resolved inside the box.
  size_t slash = rel.rfind('/');
  std::string dir = slash == std::string::npos ? "" : rel.substr(0, slash);
  std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  for (size_t i = 0; !dir.empty() && i != std::string::npos;) {
    i = dir.find('/', i + 1);
    std::string prefix = dir.substr(0, i);
    Fd probe(openat2_in(root_fd, prefix, O_PATH | O_DIRECTORY));
    if (probe.fd >= 0) continue;
    if (errno != ENOENT) fail_errno("/" + prefix);
    size_t ps = prefix.rfind('/');
    Fd parent(openat2_in(root_fd, ps == std::string::npos ? "" : prefix.substr(0, ps),
                         O_PATH | O_DIRECTORY));
    if (parent.fd < 0) fail_errno("/" + prefix);
    std::string leaf = ps == std::string::npos ? prefix : prefix.substr(ps + 1);
    if (::mkdirat(parent.fd, leaf.c_str(), 0755) != 0 && errno != EEXIST) fail_errno("/" + prefix);
  }
  Fd parent(openat2_in(root_fd, dir, O_PATH | O_DIRECTORY));
  if (parent.fd < 0) fail_errno("/" + dir);
  // O_NOFOLLOW: a symlink as the last part is refused rather than followed.
  Fd fd(::openat(parent.fd, name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                 0644));
  if (fd.fd < 0) fail_errno(path);
  struct stat st;
  if (::fstat(fd.fd, &st) != 0 || !S_ISREG(st.st_mode))
    throw BoxError(400, "Not a regular file", path + " is not a file");
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno(path);
    done += size_t(n);
  }
}

}  // namespace sandboxes
