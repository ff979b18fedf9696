#pragma once
// Where object bytes live. Metadata (storage.objects) is in the project's database; the bytes are
// in a blob store behind this small interface, so an S3-compatible backend can be added later
// next to the local one (local_blob_store.hpp).
//
// Keys are opaque ids the store generates; names from users never reach the store. An upload
// streams into a BlobWriter; commit() makes the blob durable and returns its key, which the caller
// then records in a metadata row. A blob whose row never commits (crash, failed insert) is an
// orphan, removed later by sweep_orphans().
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace storage {

// A committed blob: its key and what was computed while streaming it.
struct BlobRef {
  std::string key;
  std::uint64_t size = 0;
  std::string md5_hex;  // 32 lowercase hex chars; Supabase's ETag is "<md5 hex>".
};

// Streams one new blob. Not thread-safe; one writer per upload. Destroying a writer that was not
// committed discards everything it wrote.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  BlobWriter() = default;
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  // Appends bytes. Throws std::system_error on I/O errors (e.g. ENOSPC), std::logic_error after
  // commit().
  virtual void write(const char* data, std::size_t n) = 0;
  // Bytes written so far.
  virtual std::uint64_t size() const = 0;
  // MD5 of the bytes written so far, lowercase hex (computed incrementally).
  virtual std::string md5_hex() const = 0;
  // Makes the blob durable and visible under its key. Once it returns, the blob survives a crash;
  // if the process dies before it returns, no blob exists. Throws std::logic_error if called twice.
  virtual BlobRef commit() = 0;
};

// A committed blob opened for reading. The bytes stay readable through this handle even if the
// blob is removed meanwhile.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  BlobReader() = default;
  BlobReader(const BlobReader&) = delete;
  BlobReader& operator=(const BlobReader&) = delete;

  virtual std::uint64_t size() const = 0;
  // Reads up to n bytes at offset; returns 0 at the end. Throws std::system_error on I/O errors.
  virtual std::size_t read_at(std::uint64_t offset, char* buf, std::size_t n) = 0;
  // A descriptor usable with sendfile(2) (owned by the reader), or -1 for backends without one.
  virtual int native_fd() const { return -1; }
};

struct SweepResult {
  std::size_t blobs_removed = 0;
  std::size_t blobs_kept = 0;  // referenced, or too young to judge
  std::size_t temps_removed = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  virtual std::unique_ptr<BlobWriter> begin_write() = 0;
  // nullptr when no blob has that key. Keys not in the store's format throw
  // std::invalid_argument, as for every method taking a key.
  virtual std::unique_ptr<BlobReader> open_read(const std::string& key) = 0;
  virtual bool exists(const std::string& key) = 0;
  // true when a blob was removed, false when there was none.
  virtual bool remove(const std::string& key) = 0;
  // A new, independent blob with the same bytes (for object copy); nullopt when key has no blob.
  // Durable when it returns, like commit(). The new blob counts as fresh for sweep_orphans().
  virtual std::optional<std::string> copy(const std::string& key) = 0;

  // Removes blobs for which is_referenced(key) is false and that were committed at least min_age
  // ago (so a blob committed but whose metadata row is not yet committed is never swept), and
  // temp files untouched for min_age (left by crashed uploads).
  virtual SweepResult sweep_orphans(
      const std::function<bool(const std::string& key)>& is_referenced,
      std::chrono::seconds min_age) = 0;
};

}  // namespace storage
