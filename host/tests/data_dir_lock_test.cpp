#include "db/data_dir_lock.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "db_test_cluster.hpp"

namespace alpaca::db {
namespace {

using testing::TempDir;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(DataDirLockTest, CreatesTheDirectoryAndWritesOurPid) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/a/b/data";
  DataDirLock lock(dir);
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(lock.path(), dir + "/alpaca.lock");
  EXPECT_EQ(read_file(dir + "/alpaca.lock"), std::to_string(::getpid()) + "\n");
}

TEST(DataDirLockTest, KeepsTheModeOfAnExistingDirectory) {
  TempDir tmp;
  ASSERT_EQ(::chmod(tmp.path().c_str(), 0755), 0);
  DataDirLock lock(tmp.path());
  struct stat st {};
  ASSERT_EQ(::stat(tmp.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
}

TEST(DataDirLockTest, SecondLockThrowsWithTheHoldersPid) {
  TempDir tmp;
  DataDirLock first(tmp.path());
  try {
    DataDirLock second(tmp.path());
    FAIL() << "expected the second lock to fail";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "another alpaca-server (pid " + std::to_string(::getpid()) +
                                         ") is already using the data directory " + tmp.path() +
                                         "; stop it or choose another ALPACA_DATA_DIR");
  }
  // The failed attempt must not have overwritten the pid.
  EXPECT_EQ(read_file(tmp.path() + "/alpaca.lock"), std::to_string(::getpid()) + "\n");
}

TEST(DataDirLockTest, LockHeldByAnotherProcessNamesItsPid) {
  TempDir tmp;
  int ready[2], release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(release), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int code = 0;
    try {
      DataDirLock lock(tmp.path());
      char c = 1;
      if (::write(ready[1], &c, 1) != 1) code = 2;
      if (::read(release[0], &c, 1) < 0) code = 3;
    } catch (...) {
      code = 1;
    }
    ::_exit(code);
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  try {
    DataDirLock mine(tmp.path());
    ADD_FAILURE() << "expected the lock to be held by the child";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("(pid " + std::to_string(child) + ")"), std::string::npos)
        << e.what();
  }
  ASSERT_EQ(::write(release[1], &c, 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (int fd : {ready[0], ready[1], release[0], release[1]}) ::close(fd);
  // The child died: the lock is free again.
  EXPECT_NO_THROW(DataDirLock again(tmp.path()));
}

TEST(DataDirLockTest, ReleasedOnDestruction) {
  TempDir tmp;
  { DataDirLock first(tmp.path()); }
  EXPECT_NO_THROW(DataDirLock second(tmp.path()));
}

TEST(DataDirLockTest, LockDescriptorIsCloseOnExec) {
  TempDir tmp;
  DataDirLock lock(tmp.path());
  std::optional<int> lock_fd;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(e.path(), ec).string() == lock.path()) {
      lock_fd = std::stoi(e.path().filename().string());
    }
  }
  ASSERT_TRUE(lock_fd.has_value()) << "lock file descriptor not found";
  const int flags = ::fcntl(*lock_fd, F_GETFD);
  ASSERT_GE(flags, 0);
  EXPECT_TRUE(flags & FD_CLOEXEC);
}

}  // namespace
}  // namespace alpaca::db
