#pragma once
// The default blob store: files under a root directory (<data_dir>/storage), one store per project.
//
//   <root>/tmp/<ref>.<key>.tmp      uploads in progress (same file system as the blobs)
//   <root>/<ref>/<k0k1>/<k2k3>/<key> committed blobs, key = 32 random lowercase hex chars
//
// Only the project ref (validated [a-z0-9]+) and generated keys (validated again on every call)
// become path components. commit() = fsync(file), rename into place, fsync(directory), so a crash
// at any point leaves either no blob or a complete one. Directories are created with mode 0700,
// files with 0600. Safe to use from several threads; each writer is used by one thread
// and may outlive the store.
#include <filesystem>
#include <string>

#include "blob/blob_store.hpp"

namespace storage {

class LocalBlobStore final : public BlobStore {
 public:
  // Creates <root>, <root>/tmp and <root>/<project_ref> if missing. Throws std::invalid_argument
  // for a project ref that is not [a-z0-9]{1,63}, std::system_error when directories cannot be
  // created.
  LocalBlobStore(std::filesystem::path root, std::string project_ref);

  std::unique_ptr<BlobWriter> begin_write() override;
  std::unique_ptr<BlobReader> open_read(const std::string& key) override;
  bool exists(const std::string& key) override;
  bool remove(const std::string& key) override;
  std::optional<std::string> copy(const std::string& key) override;
  // Ages are taken from the file's ctime (set by the final rename or link, and by every write).
  // Stale temp files are removed whichever project they belong to.
  SweepResult sweep_orphans(const std::function<bool(const std::string& key)>& is_referenced,
                            std::chrono::seconds min_age) override;

  // Exactly 32 lowercase hex chars.
  static bool valid_key(const std::string& key);
  static bool valid_project_ref(const std::string& ref);
  // Where the blob with this key lives (no I/O). Throws std::invalid_argument for invalid keys.
  std::filesystem::path blob_path(const std::string& key) const;
  const std::filesystem::path& root() const { return root_; }
  const std::filesystem::path& tmp_dir() const { return tmp_dir_; }
  const std::filesystem::path& project_dir() const { return project_dir_; }

 private:
  std::filesystem::path root_;
  std::string project_ref_;
  std::filesystem::path tmp_dir_;
  std::filesystem::path project_dir_;
};

}  // namespace storage
