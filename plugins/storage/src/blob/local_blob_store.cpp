#include "blob/local_blob_store.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

namespace storage {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kKeyLength = 32;
constexpr std::size_t kWriteBuffer = 64 * 1024;

[[noreturn]] void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), "blob store: " + what);
}

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Closes and reports the error close(2) returns (delayed write errors on some file systems).
  int close_checked() {
    int rc = 0;
    if (fd_ >= 0 && ::close(fd_) != 0) rc = errno;
    fd_ = -1;
    return rc;
  }

 private:
  int fd_ = -1;
};

void fsync_dir(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw_errno(errno, "open directory " + dir.string());
  if (::fsync(fd.get()) != 0) throw_errno(errno, "fsync directory " + dir.string());
}

// mkdir with mode 0700; true when this call created it.
bool make_dir(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0) return true;
  int err = errno;
  struct stat st {};
  if (err == EEXIST && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return false;
  throw_errno(err == EEXIST ? ENOTDIR : err, "mkdir " + dir.string());
}

// Creates dir (and makes its entry durable in its parent) if missing.
void ensure_dir_durable(const fs::path& dir) {
  if (make_dir(dir)) fsync_dir(dir.parent_path());
}

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 0xf];
  }
  return out;
}

std::string random_key() {
  unsigned char bytes[kKeyLength / 2];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    throw std::runtime_error("blob store: RAND_bytes failed");
  return to_hex(bytes, sizeof bytes);
}

fs::path fanout_dir(const fs::path& project_dir, const std::string& key) {
  return project_dir / key.substr(0, 2) / key.substr(2, 2);
}

// Creates <project>/<ab>/<cd> as needed, each new directory made durable; returns it.
fs::path ensure_fanout_dir(const fs::path& project_dir, const std::string& key) {
  fs::path first = project_dir / key.substr(0, 2);
  ensure_dir_durable(first);
  fs::path second = first / key.substr(2, 2);
  ensure_dir_durable(second);
  return second;
}

void check_key(const std::string& key) {
  if (!LocalBlobStore::valid_key(key)) throw std::invalid_argument("blob store: invalid blob key");
}

// Whether the file's status last changed (rename, link, write) at least min_age ago.
bool older_than(const struct stat& st, std::chrono::seconds min_age) {
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const __int128 now_ns = static_cast<__int128>(now.tv_sec) * 1000000000 + now.tv_nsec;
  const __int128 changed_ns =
      static_cast<__int128>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  return now_ns - changed_ns >= static_cast<__int128>(min_age.count()) * 1000000000;
}

bool is_pair_of_hex(const std::string& name) {
  return name.size() == 2 && LocalBlobStore::valid_key(name + std::string(kKeyLength - 2, '0'));
}

class EvpMd5 {
 public:
  EvpMd5() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_md5(), nullptr) != 1) {
      EVP_MD_CTX_free(ctx_);
      throw std::runtime_error("blob store: MD5 unavailable");
    }
  }
  ~EvpMd5() { EVP_MD_CTX_free(ctx_); }
  EvpMd5(const EvpMd5&) = delete;
  EvpMd5& operator=(const EvpMd5&) = delete;

  void update(const char* data, std::size_t n) {
    if (n > 0 && EVP_DigestUpdate(ctx_, data, n) != 1)
      throw std::runtime_error("blob store: MD5 update failed");
  }
  // The digest of everything so far; the running state is left untouched.
  std::string hex() const {
    EVP_MD_CTX* copy = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    bool ok = copy != nullptr && EVP_MD_CTX_copy_ex(copy, ctx_) == 1 &&
              EVP_DigestFinal_ex(copy, md, &len) == 1;
    EVP_MD_CTX_free(copy);
    if (!ok) throw std::runtime_error("blob store: MD5 final failed");
    return to_hex(md, len);
  }

 private:
  EVP_MD_CTX* ctx_;
};

class LocalBlobWriter final : public BlobWriter {
 public:
  LocalBlobWriter(const fs::path& tmp_dir, const std::string& project_ref, fs::path project_dir)
      : project_dir_(std::move(project_dir)) {
    buf_.reserve(kWriteBuffer);
    // A clash of 128 random bits is not expected; O_EXCL makes sure one never overwrites.
    for (int attempt = 0;; ++attempt) {
      key_ = random_key();
      tmp_path_ = tmp_dir / (project_ref + "." + key_ + ".tmp");
      fd_ = UniqueFd(::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
      if (fd_) break;
      if (errno != EEXIST || attempt >= 3) throw_errno(errno, "create " + tmp_path_.string());
    }
  }

  ~LocalBlobWriter() override {
    if (!committed_) {
      fd_.reset();
      ::unlink(tmp_path_.c_str());
    }
  }

  void write(const char* data, std::size_t n) override {
    if (committed_) throw std::logic_error("blob store: write after commit");
    if (n == 0) return;
    md5_.update(data, n);
    size_ += n;
    if (buf_.size() + n <= kWriteBuffer) {
      buf_.insert(buf_.end(), data, data + n);
      if (buf_.size() == kWriteBuffer) flush();
      return;
    }
    flush();
    if (n >= kWriteBuffer) {
      write_all(data, n);
    } else {
      buf_.insert(buf_.end(), data, data + n);
    }
  }

  std::uint64_t size() const override { return size_; }
  std::string md5_hex() const override { return md5_.hex(); }

  BlobRef commit() override {
    if (committed_) throw std::logic_error("blob store: commit called twice");
    flush();
    if (::fsync(fd_.get()) != 0) throw_errno(errno, "fsync " + tmp_path_.string());
    if (int err = fd_.close_checked(); err != 0) throw_errno(err, "close " + tmp_path_.string());
    const fs::path dir = ensure_fanout_dir(project_dir_, key_);
    const fs::path final_path = dir / key_;
    if (::rename(tmp_path_.c_str(), final_path.c_str()) != 0)
      throw_errno(errno, "rename to " + final_path.string());
    committed_ = true;
    // The rename is only durable once the directory is; until this returns the caller must not
    // record the key (if it throws, the blob is an orphan the sweeper removes).
    fsync_dir(dir);
    return BlobRef{key_, size_, md5_.hex()};
  }

 private:
  void flush() {
    if (buf_.empty()) return;
    write_all(buf_.data(), buf_.size());
    buf_.clear();
  }

  void write_all(const char* data, std::size_t n) {
    while (n > 0) {
      ssize_t w = ::write(fd_.get(), data, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        throw_errno(errno, "write " + tmp_path_.string());
      }
      data += w;
      n -= static_cast<std::size_t>(w);
    }
  }

  fs::path project_dir_;
  std::string key_;
  fs::path tmp_path_;
  UniqueFd fd_;
  std::vector<char> buf_;
  EvpMd5 md5_;
  std::uint64_t size_ = 0;
  bool committed_ = false;
};

class LocalBlobReader final : public BlobReader {
 public:
  LocalBlobReader(UniqueFd fd, std::uint64_t size) : fd_(std::move(fd)), size_(size) {}

  std::uint64_t size() const override { return size_; }

  std::size_t read_at(std::uint64_t offset, char* buf, std::size_t n) override {
    for (;;) {
      ssize_t r = ::pread(fd_.get(), buf, n, static_cast<off_t>(offset));
      if (r >= 0) return static_cast<std::size_t>(r);
      if (errno != EINTR) throw_errno(errno, "read blob");
    }
  }

  int native_fd() const override { return fd_.get(); }

 private:
  UniqueFd fd_;
  std::uint64_t size_;
};

}  // namespace

LocalBlobStore::LocalBlobStore(std::filesystem::path root, std::string project_ref)
    : root_(std::move(root)), project_ref_(std::move(project_ref)) {
  if (!valid_project_ref(project_ref_))
    throw std::invalid_argument("blob store: invalid project ref");
  if (root_.empty()) throw std::invalid_argument("blob store: empty root");
  tmp_dir_ = root_ / "tmp";
  project_dir_ = root_ / project_ref_;
  // A project named "tmp" would share the temp directory.
  if (project_ref_ == "tmp") throw std::invalid_argument("blob store: invalid project ref");
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) {
    fs::create_directories(root_, ec);
    if (ec) throw std::system_error(ec, "blob store: create " + root_.string());
    ::chmod(root_.c_str(), 0700);
  }
  make_dir(tmp_dir_);
  ensure_dir_durable(project_dir_);
}

bool LocalBlobStore::valid_key(const std::string& key) {
  if (key.size() != kKeyLength) return false;
  for (char c : key) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool LocalBlobStore::valid_project_ref(const std::string& ref) {
  if (ref.empty() || ref.size() > 63) return false;
  for (char c : ref) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

std::filesystem::path LocalBlobStore::blob_path(const std::string& key) const {
  check_key(key);
  return fanout_dir(project_dir_, key) / key;
}

std::unique_ptr<BlobWriter> LocalBlobStore::begin_write() {
  return std::make_unique<LocalBlobWriter>(tmp_dir_, project_ref_, project_dir_);
}

std::unique_ptr<BlobReader> LocalBlobStore::open_read(const std::string& key) {
  const fs::path path = blob_path(key);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    if (errno == ENOENT) return nullptr;
    throw_errno(errno, "open " + path.string());
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_errno(errno, "stat " + path.string());
  if (!S_ISREG(st.st_mode)) throw_errno(EINVAL, "not a regular file: " + path.string());
  return std::make_unique<LocalBlobReader>(std::move(fd), static_cast<std::uint64_t>(st.st_size));
}

bool LocalBlobStore::exists(const std::string& key) {
  const fs::path path = blob_path(key);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) return S_ISREG(st.st_mode);
  if (errno == ENOENT || errno == ENOTDIR) return false;
  throw_errno(errno, "stat " + path.string());
}

bool LocalBlobStore::remove(const std::string& key) {
  const fs::path path = blob_path(key);
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT || errno == ENOTDIR) return false;
  throw_errno(errno, "unlink " + path.string());
}

std::optional<std::string> LocalBlobStore::copy(const std::string& key) {
  const fs::path src = blob_path(key);
  // Blobs are immutable, so a hard link is a copy; link(2) also refreshes the inode's ctime, so the
  // new name is "fresh" for the sweeper until its row is committed.
  for (int attempt = 0; attempt < 4; ++attempt) {
    const std::string new_key = random_key();
    const fs::path dir = ensure_fanout_dir(project_dir_, new_key);
    const fs::path dst = dir / new_key;
    if (::link(src.c_str(), dst.c_str()) == 0) {
      fsync_dir(dir);
      return new_key;
    }
    const int err = errno;
    if (err == ENOENT) return std::nullopt;
    if (err == EEXIST) continue;
    if (err != EPERM && err != EMLINK && err != EXDEV && err != EOPNOTSUPP)
      throw_errno(err, "link " + dst.string());
    // No hard links here: copy the bytes.
    auto reader = open_read(key);
    if (!reader) return std::nullopt;
    auto writer = begin_write();
    std::vector<char> buf(kWriteBuffer);
    std::uint64_t off = 0;
    for (std::size_t n; (n = reader->read_at(off, buf.data(), buf.size())) > 0; off += n)
      writer->write(buf.data(), n);
    return writer->commit().key;
  }
  throw std::runtime_error("blob store: could not allocate a key");
}

SweepResult LocalBlobStore::sweep_orphans(
    const std::function<bool(const std::string& key)>& is_referenced,
    std::chrono::seconds min_age) {
  SweepResult result;

  // Committed blobs: <project>/<ab>/<cd>/<key>; anything else found there is left alone.
  const auto subdirs = [](const fs::path& dir, auto&& fn) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) fn(*it);
    if (ec && ec != std::errc::no_such_file_or_directory)
      throw std::system_error(ec, "blob store: sweep " + dir.string());
  };
  subdirs(project_dir_, [&](const fs::directory_entry& e1) {
    const std::string d1 = e1.path().filename().string();
    if (!is_pair_of_hex(d1)) return;
    subdirs(e1.path(), [&](const fs::directory_entry& e2) {
      const std::string d2 = e2.path().filename().string();
      if (!is_pair_of_hex(d2)) return;
      subdirs(e2.path(), [&](const fs::directory_entry& e3) {
        const std::string key = e3.path().filename().string();
        if (!valid_key(key) || key.compare(0, 2, d1) != 0 || key.compare(2, 2, d2) != 0) return;
        struct stat st {};
        if (::lstat(e3.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
        if (!older_than(st, min_age) || is_referenced(key)) {
          ++result.blobs_kept;
        } else if (::unlink(e3.path().c_str()) == 0) {
          ++result.blobs_removed;
        }
      });
    });
  });

  // Temp files left by crashed or abandoned uploads (a live upload touches its file as it writes).
  subdirs(tmp_dir_, [&](const fs::directory_entry& e) {
    struct stat st {};
    if (::lstat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
    if (older_than(st, min_age) && ::unlink(e.path().c_str()) == 0) ++result.temps_removed;
  });
  return result;
}

}  // namespace storage
