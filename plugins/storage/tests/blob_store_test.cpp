// Unit tests of the local blob store: round trips, ETags, key validation, the orphan sweeper and
// crash safety under SIGKILL.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "blob/local_blob_store.hpp"

namespace fs = std::filesystem;
using storage::BlobRef;
using storage::LocalBlobStore;

namespace {

class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "blobstore-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << std::strerror(errno);
    base_ = tmpl;
    root_ = base_ / "storage";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(base_, ec);
  }

  fs::path base_;
  fs::path root_;
};

std::string md5_of(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr), 1);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kDigits[md[i] >> 4];
    out += kDigits[md[i] & 0xf];
  }
  return out;
}

std::string read_all(storage::BlobReader& reader) {
  std::string out;
  std::vector<char> buf(10007);  // odd size: reads cross chunk boundaries
  std::uint64_t off = 0;
  for (std::size_t n; (n = reader.read_at(off, buf.data(), buf.size())) > 0; off += n)
    out.append(buf.data(), n);
  return out;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Regular files anywhere under dir.
std::vector<fs::path> files_under(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file()) out.push_back(it->path());
  return out;
}

BlobRef put(storage::BlobStore& store, const std::string& data, std::size_t chunk = 65536) {
  auto w = store.begin_write();
  for (std::size_t off = 0; off < data.size(); off += chunk)
    w->write(data.data() + off, std::min(chunk, data.size() - off));
  EXPECT_EQ(w->size(), data.size());
  return w->commit();
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

void expect_round_trip(LocalBlobStore& store, const std::string& data, std::size_t chunk) {
  BlobRef ref = put(store, data, chunk);
  EXPECT_TRUE(LocalBlobStore::valid_key(ref.key)) << ref.key;
  EXPECT_EQ(ref.size, data.size());
  EXPECT_EQ(ref.md5_hex, md5_of(data));
  EXPECT_TRUE(store.exists(ref.key));
  auto reader = store.open_read(ref.key);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->size(), data.size());
  EXPECT_GE(reader->native_fd(), 0);
  EXPECT_EQ(read_all(*reader), data);
  EXPECT_EQ(read_file(store.blob_path(ref.key)), data);
}

TEST_F(BlobStoreTest, RoundTripEmpty) {
  LocalBlobStore store(root_, "proj1");
  expect_round_trip(store, "", 65536);
  // md5("") is the ETag of an empty object.
  auto w = store.begin_write();
  EXPECT_EQ(w->commit().md5_hex, "d41d8cd98f00b204e9800998ecf8427e");
}

TEST_F(BlobStoreTest, RoundTripOneByte) {
  LocalBlobStore store(root_, "proj1");
  expect_round_trip(store, "x", 65536);
  expect_round_trip(store, std::string(1, '\0'), 1);
}

TEST_F(BlobStoreTest, RoundTripOneMiBIn64KiBChunks) {
  LocalBlobStore store(root_, "proj1");
  expect_round_trip(store, random_bytes(1 << 20, 1), 64 * 1024);
  // Unaligned chunk sizes go through the writer's buffer differently.
  expect_round_trip(store, random_bytes((1 << 20) + 3, 2), 65535);
  expect_round_trip(store, random_bytes(300000, 3), 100000);
  expect_round_trip(store, random_bytes(70000, 4), 7);
}

TEST_F(BlobStoreTest, Md5KnownVectors) {
  LocalBlobStore store(root_, "proj1");
  EXPECT_EQ(put(store, "abc").md5_hex, "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(put(store, "The quick brown fox jumps over the lazy dog", 5).md5_hex,
            "9e107d9d372bb6826bd81d3542a419d6");
  // One million 'a' (the RFC 1321 suite's long vector), in 64 KiB and in odd chunks.
  const std::string million(1000000, 'a');
  EXPECT_EQ(put(store, million, 65536).md5_hex, "7707d6ae4e027c70eea2a935c2296f21");
  EXPECT_EQ(put(store, million, 999).md5_hex, "7707d6ae4e027c70eea2a935c2296f21");
}

TEST_F(BlobStoreTest, Md5MidStreamLeavesRunningDigestIntact) {
  LocalBlobStore store(root_, "proj1");
  auto w = store.begin_write();
  w->write("a", 1);
  EXPECT_EQ(w->md5_hex(), "0cc175b9c0f1b6a831c399e269772661");  // md5("a")
  w->write("bc", 2);
  EXPECT_EQ(w->md5_hex(), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(w->size(), 3u);
  EXPECT_EQ(w->commit().md5_hex, "900150983cd24fb0d6963f7d28e17f72");
}

TEST_F(BlobStoreTest, KeysAreRandomHexLaidOutWithPrivateModes) {
  LocalBlobStore store(root_, "abc123");
  std::set<std::string> keys;
  for (int i = 0; i < 50; ++i) {
    BlobRef ref = put(store, "data" + std::to_string(i));
    ASSERT_EQ(ref.key.size(), 32u);
    EXPECT_TRUE(LocalBlobStore::valid_key(ref.key));
    EXPECT_TRUE(keys.insert(ref.key).second) << "duplicate key " << ref.key;
    const fs::path expected =
        root_ / "abc123" / ref.key.substr(0, 2) / ref.key.substr(2, 2) / ref.key;
    EXPECT_EQ(store.blob_path(ref.key), expected);
    struct stat st {};
    ASSERT_EQ(::stat(expected.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    for (fs::path dir = expected.parent_path(); dir != root_; dir = dir.parent_path()) {
      ASSERT_EQ(::stat(dir.c_str(), &st), 0);
      EXPECT_EQ(st.st_mode & 0777, 0700u) << dir;
    }
  }
  struct stat st {};
  ASSERT_EQ(::stat(root_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(store.tmp_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(store.tmp_dir(), root_ / "tmp");
  EXPECT_TRUE(files_under(store.tmp_dir()).empty());
}

TEST_F(BlobStoreTest, UncommittedWriterLeavesNothingBehind) {
  LocalBlobStore store(root_, "proj1");
  {
    auto w = store.begin_write();
    const std::string data = random_bytes(200000, 5);
    w->write(data.data(), data.size());
    EXPECT_EQ(files_under(store.tmp_dir()).size(), 1u);  // streaming goes to tmp/
    EXPECT_TRUE(files_under(store.project_dir()).empty());
  }
  EXPECT_TRUE(files_under(root_).empty());
  { auto w = store.begin_write(); }  // never written to
  EXPECT_TRUE(files_under(root_).empty());
}

TEST_F(BlobStoreTest, WriterMisuseThrows) {
  LocalBlobStore store(root_, "proj1");
  auto w = store.begin_write();
  w->write("abc", 3);
  BlobRef ref = w->commit();
  EXPECT_THROW(w->write("d", 1), std::logic_error);
  EXPECT_THROW(w->commit(), std::logic_error);
  w.reset();  // destroying a committed writer keeps the blob
  auto r = store.open_read(ref.key);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(read_all(*r), "abc");
}

TEST_F(BlobStoreTest, Remove) {
  LocalBlobStore store(root_, "proj1");
  BlobRef a = put(store, "first");
  BlobRef b = put(store, "second");
  EXPECT_TRUE(store.remove(a.key));
  EXPECT_FALSE(store.exists(a.key));
  EXPECT_EQ(store.open_read(a.key), nullptr);
  EXPECT_FALSE(store.remove(a.key));
  EXPECT_TRUE(store.exists(b.key));
  // A key that was never written.
  EXPECT_FALSE(store.exists("0123456789abcdef0123456789abcdef"));
  EXPECT_EQ(store.open_read("0123456789abcdef0123456789abcdef"), nullptr);
  EXPECT_FALSE(store.remove("0123456789abcdef0123456789abcdef"));
}

TEST_F(BlobStoreTest, OpenReaderSurvivesRemove) {
  LocalBlobStore store(root_, "proj1");
  const std::string data = random_bytes(100000, 6);
  BlobRef ref = put(store, data);
  auto r = store.open_read(ref.key);
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(store.remove(ref.key));
  EXPECT_EQ(read_all(*r), data);
}

TEST_F(BlobStoreTest, Copy) {
  LocalBlobStore store(root_, "proj1");
  const std::string data = random_bytes(123457, 7);
  BlobRef ref = put(store, data);
  auto copied = store.copy(ref.key);
  ASSERT_TRUE(copied.has_value());
  EXPECT_NE(*copied, ref.key);
  EXPECT_TRUE(LocalBlobStore::valid_key(*copied));
  ASSERT_TRUE(store.remove(ref.key));
  auto r = store.open_read(*copied);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(read_all(*r), data);
  EXPECT_FALSE(store.copy(ref.key).has_value());
  // The copy is fresh for the sweeper even though its bytes are older.
  auto res = store.sweep_orphans([](const std::string&) { return false; }, std::chrono::hours(1));
  EXPECT_EQ(res.blobs_removed, 0u);
  EXPECT_TRUE(store.exists(*copied));
}

TEST_F(BlobStoreTest, InvalidKeysRefused) {
  LocalBlobStore store(root_, "proj1");
  BlobRef real = put(store, "secret");
  std::string with_nul = real.key;
  with_nul[5] = '\0';
  const std::vector<std::string> bad = {
      "",
      "../x",
      "/etc/passwd",
      "..",
      ".",
      "../../../../../../../../etc/pass",  // 32 chars
      "/0123456789abcdef0123456789abcde",  // 32 chars, absolute
      "0123456789abcdef/123456789abcdef",  // 32 chars with a slash
      "%2e%2e%2f%2e%2e%2f0123456789abcd",  // 32 chars, encoded traversal
      "..%2f0123456789abcdef0123456789a",
      with_nul,
      real.key + std::string(1, '\0'),
      real.key.substr(0, 31),
      real.key + "0",
      "0123456789ABCDEF0123456789ABCDEF",  // upper case
      "0123456789abcdef0123456789abcdeg",  // not hex
      "0123456789abcdef 123456789abcdef",
      "0123456789abcdef\n123456789abcdef",
      "0123456789abcdef0123456789abcde\xff",
  };
  for (const std::string& key : bad) {
    SCOPED_TRACE(::testing::PrintToString(key));
    EXPECT_FALSE(LocalBlobStore::valid_key(key));
    EXPECT_THROW(store.open_read(key), std::invalid_argument);
    EXPECT_THROW(store.exists(key), std::invalid_argument);
    EXPECT_THROW(store.remove(key), std::invalid_argument);
    EXPECT_THROW(store.copy(key), std::invalid_argument);
    EXPECT_THROW(store.blob_path(key), std::invalid_argument);
  }
  EXPECT_TRUE(store.exists(real.key));
}

TEST_F(BlobStoreTest, InvalidProjectRefsRefused) {
  const std::vector<std::string> bad = {"",    "..",  ".",   "../x", "a/b", "/abs",
                                        "ABC", "a-b", "a.b", "tmp",  "a b", std::string(64, 'a')};
  for (const std::string& ref : bad) {
    SCOPED_TRACE(ref);
    EXPECT_THROW(LocalBlobStore(root_, ref), std::invalid_argument);
  }
  EXPECT_THROW(LocalBlobStore(root_, std::string("ab\0cd", 5)), std::invalid_argument);
  EXPECT_NO_THROW(LocalBlobStore(root_, std::string(63, 'a')));
  EXPECT_NO_THROW(LocalBlobStore(root_, "abcdefghij0123456789"));
  EXPECT_FALSE(fs::exists(base_ / "x"));
  EXPECT_FALSE(fs::exists(fs::path("/abs")));
}

TEST_F(BlobStoreTest, ProjectsAreSeparate) {
  LocalBlobStore a(root_, "projecta");
  LocalBlobStore b(root_, "projectb");
  BlobRef ref = put(a, "a's data");
  EXPECT_TRUE(a.exists(ref.key));
  EXPECT_FALSE(b.exists(ref.key));
  EXPECT_EQ(b.open_read(ref.key), nullptr);
  EXPECT_FALSE(b.remove(ref.key));
  // b's sweep never touches a's blobs.
  auto res = b.sweep_orphans([](const std::string&) { return false; }, std::chrono::seconds(0));
  EXPECT_EQ(res.blobs_removed, 0u);
  EXPECT_TRUE(a.exists(ref.key));
}

// Ages are whole seconds, so this test waits a little over one.
TEST_F(BlobStoreTest, SweepRemovesOldOrphansAndStaleTempsKeepsReferencedAndFresh) {
  LocalBlobStore store(root_, "proj1");
  BlobRef old_referenced = put(store, "old, referenced");
  BlobRef old_orphan1 = put(store, "old, orphan 1");
  BlobRef old_orphan2 = put(store, random_bytes(100000, 8));
  // A crashed upload's leftover temp file and some junk the sweeper must not misread as blobs.
  { std::ofstream(store.tmp_dir() / "proj1.0123456789abcdef0123456789abcdef.tmp") << "partial"; }
  { std::ofstream(store.tmp_dir() / "otherproj.00000000000000000000000000000000.tmp") << "p"; }
  fs::create_directories(store.project_dir() / "zz");
  { std::ofstream(store.project_dir() / "zz" / "README") << "not a blob"; }
  { std::ofstream(store.project_dir() / "README") << "not a blob"; }

  std::this_thread::sleep_for(std::chrono::milliseconds(1100));

  BlobRef fresh_orphan = put(store, "fresh, not yet referenced");
  auto in_flight = store.begin_write();
  in_flight->write("still uploading", 15);

  std::set<std::string> asked;
  auto res = store.sweep_orphans(
      [&](const std::string& key) {
        asked.insert(key);
        return key == old_referenced.key;
      },
      std::chrono::seconds(1));
  EXPECT_EQ(res.blobs_removed, 2u);
  EXPECT_EQ(res.blobs_kept, 2u);
  EXPECT_EQ(res.temps_removed, 2u);
  EXPECT_TRUE(store.exists(old_referenced.key));
  EXPECT_FALSE(store.exists(old_orphan1.key));
  EXPECT_FALSE(store.exists(old_orphan2.key));
  EXPECT_TRUE(store.exists(fresh_orphan.key));
  // Fresh blobs are kept without asking (no need to look up rows for them).
  EXPECT_EQ(asked.count(fresh_orphan.key), 0u);
  EXPECT_TRUE(fs::exists(store.project_dir() / "zz" / "README"));
  EXPECT_TRUE(fs::exists(store.project_dir() / "README"));
  EXPECT_EQ(files_under(store.tmp_dir()).size(), 1u);  // the in-flight upload's

  // The in-flight upload still commits.
  BlobRef late = in_flight->commit();
  auto r = store.open_read(late.key);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(read_all(*r), "still uploading");
  EXPECT_TRUE(files_under(store.tmp_dir()).empty());

  // min_age 0 sweeps everything unreferenced.
  res = store.sweep_orphans([](const std::string&) { return false; }, std::chrono::seconds(0));
  EXPECT_EQ(res.blobs_removed, 3u);
  EXPECT_EQ(res.blobs_kept, 0u);
  EXPECT_FALSE(store.exists(old_referenced.key));
}

TEST_F(BlobStoreTest, SweepOfEmptyStore) {
  LocalBlobStore store(root_, "proj1");
  auto res = store.sweep_orphans([](const std::string&) { return false; }, std::chrono::seconds(0));
  EXPECT_EQ(res.blobs_removed + res.blobs_kept + res.temps_removed, 0u);
}

TEST_F(BlobStoreTest, ConcurrentWriters) {
  LocalBlobStore store(root_, "proj1");
  constexpr int kThreads = 4, kPerThread = 25;
  std::vector<std::vector<std::pair<BlobRef, std::string>>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string data = random_bytes(1000 + 997 * i, static_cast<unsigned>(t * 1000 + i));
        results[t].emplace_back(put(store, data, 4096), data);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> keys;
  for (auto& per_thread : results) {
    for (auto& [ref, data] : per_thread) {
      EXPECT_TRUE(keys.insert(ref.key).second);
      auto r = store.open_read(ref.key);
      ASSERT_NE(r, nullptr);
      EXPECT_EQ(read_all(*r), data);
      EXPECT_EQ(ref.md5_hex, md5_of(data));
    }
  }
  EXPECT_EQ(keys.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

// ---- crash safety ----

// Blob contents the parent can check without knowing which blobs a killed child managed to
// commit: a 16-byte header (seed, total length) followed by bytes generated from the seed.
std::uint64_t splitmix64(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string self_describing_blob(std::uint64_t seed, std::uint64_t length) {
  std::string out(length, '\0');
  std::memcpy(out.data(), &seed, 8);
  std::memcpy(out.data() + 8, &length, 8);
  std::uint64_t s = seed;
  for (std::size_t i = 16; i < length; ++i) out[i] = static_cast<char>(splitmix64(s) & 0xff);
  return out;
}

bool blob_is_complete(const std::string& data) {
  if (data.size() < 16) return false;
  std::uint64_t seed = 0, length = 0;
  std::memcpy(&seed, data.data(), 8);
  std::memcpy(&length, data.data() + 8, 8);
  return length == data.size() && data == self_describing_blob(seed, length);
}

enum class KillPoint { kByParent, kMidWrite, kBeforeCommit, kAfterCommit };

// The child: writes blobs (reporting each committed key on report_fd) until it is killed.
[[noreturn]] void crash_child(const fs::path& root, int report_fd, KillPoint point,
                              std::uint64_t seed) {
  try {
    LocalBlobStore store(root, "crashproj");
    std::mt19937_64 rng(seed);
    for (int blob = 0; blob < 40; ++blob) {
      const std::uint64_t length = 16 + rng() % (256 * 1024);
      const std::string data = self_describing_blob(seed * 100 + blob, length);
      auto w = store.begin_write();
      for (std::size_t off = 0; off < data.size();) {
        const std::size_t n = std::min<std::size_t>(1 + rng() % 65536, data.size() - off);
        w->write(data.data() + off, n);
        off += n;
        if (point == KillPoint::kMidWrite && off >= data.size() / 2) ::raise(SIGKILL);
      }
      if (point == KillPoint::kBeforeCommit) ::raise(SIGKILL);
      BlobRef ref = w->commit();
      if (point == KillPoint::kAfterCommit) ::raise(SIGKILL);
      if (::write(report_fd, ref.key.data(), ref.key.size()) != 32) ::_exit(3);
    }
    ::_exit(0);
  } catch (...) {
    ::_exit(2);
  }
}

TEST_F(BlobStoreTest, SigkillAtRandomPointsLeavesNoPartialBlobs) {
  constexpr int kIterations = 200;
  LocalBlobStore store(root_, "crashproj");
  std::set<std::string> reported;
  std::mt19937_64 rng(::testing::UnitTest::GetInstance()->random_seed() + 12345);
  int self_killed_before_commit = 0, self_killed_after_commit = 0, killed_by_parent = 0;

  for (int i = 0; i < kIterations; ++i) {
    const auto point = static_cast<KillPoint>(i % 4);
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      crash_child(root_, fds[1], point, static_cast<std::uint64_t>(i) + 1);
    }
    ::close(fds[1]);
    if (point == KillPoint::kByParent) {
      // Anywhere from before the first write to several blobs in (a commit's fsyncs take ms).
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 60000));
      ::kill(pid, SIGKILL);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
        << "child failed, status " << status;
    if (WIFSIGNALED(status)) {
      ASSERT_EQ(WTERMSIG(status), SIGKILL);
      if (point == KillPoint::kByParent) ++killed_by_parent;
      if (point == KillPoint::kMidWrite || point == KillPoint::kBeforeCommit)
        ++self_killed_before_commit;
      if (point == KillPoint::kAfterCommit) ++self_killed_after_commit;
    }
    char key[32];
    for (ssize_t n; (n = ::read(fds[0], key, sizeof key)) > 0;) {
      ASSERT_EQ(n, 32);
      ASSERT_TRUE(reported.insert(std::string(key, 32)).second) << "key reused";
    }
    ::close(fds[0]);
  }
  EXPECT_EQ(self_killed_before_commit, kIterations / 2);
  EXPECT_EQ(self_killed_after_commit, kIterations / 4);
  EXPECT_GT(killed_by_parent, 0);

  // Every file outside tmp/ is a complete blob at its key's place; every reported key is there.
  std::size_t committed = 0;
  for (const fs::path& p : files_under(store.project_dir())) {
    SCOPED_TRACE(p.string());
    const std::string key = p.filename().string();
    ASSERT_TRUE(LocalBlobStore::valid_key(key));
    ASSERT_EQ(store.blob_path(key), p);
    ASSERT_TRUE(blob_is_complete(read_file(p))) << "partial or corrupt blob";
    ++committed;
  }
  for (const std::string& key : reported) {
    auto r = store.open_read(key);
    ASSERT_NE(r, nullptr) << key;
    EXPECT_TRUE(blob_is_complete(read_all(*r)));
  }
  // Blobs committed by a child killed before it could report them are orphans (at least one per
  // kAfterCommit iteration); crashed uploads left temp files (one per kill before commit).
  EXPECT_GE(committed, reported.size() + kIterations / 4);
  EXPECT_GE(files_under(store.tmp_dir()).size(), static_cast<std::size_t>(kIterations / 2));

  // The sweeper removes exactly the orphans and the leftovers.
  auto res = store.sweep_orphans([&](const std::string& key) { return reported.count(key) > 0; },
                                 std::chrono::seconds(0));
  EXPECT_EQ(res.blobs_removed, committed - reported.size());
  EXPECT_EQ(res.blobs_kept, reported.size());
  EXPECT_TRUE(files_under(store.tmp_dir()).empty());
  EXPECT_EQ(files_under(store.project_dir()).size(), reported.size());
  std::printf(
      "%d iterations (%d killed by the parent): %zu blobs committed, %zu reported, %zu "
      "temp files swept\n",
      kIterations, killed_by_parent, committed, reported.size(), res.temps_removed);
}

}  // namespace
