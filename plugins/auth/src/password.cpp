#include "password.hpp"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace auth {

namespace {
// struct crypt_data is ~32 KiB: one per thread, not on the stack.
crypt_data& scratch() {
  thread_local auto data = std::make_unique<crypt_data>();
  return *data;
}

// bcrypt is pure CPU: running more at once than there are cores only time-slices them (and
// evicts each one's 4 KiB S-boxes from the cache). Extra callers wait their turn, first come
// first served, so no sign-in waits much longer than the queue ahead of it.
class CoreQueue {
 public:
  CoreQueue() : slots_(std::max(1u, std::thread::hardware_concurrency())) {}
  void acquire() {
    std::unique_lock lock(mu_);
    uint64_t ticket = next_++;
    turn_.wait(lock, [&] { return ticket < released_ + slots_; });
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      ++released_;
    }
    turn_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable turn_;
  uint64_t next_ = 0, released_ = 0;
  const uint64_t slots_;
};

CoreQueue& cores() {
  static CoreQueue q;
  return q;
}

const char* crypt_on_a_core(const std::string& password, const char* setting, crypt_data& data) {
  cores().acquire();
  const char* out = crypt_rn(password.c_str(), setting, &data, sizeof data);
  cores().release();
  return out;
}
}  // namespace

std::string hash_password(const std::string& password, int cost) {
  unsigned char random[16];
  if (RAND_bytes(random, sizeof random) != 1) throw std::runtime_error("no random bytes");
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  // $2a$ as GoTrue (Go's bcrypt) writes it: pgcrypto's crypt() reads $2a$ but not $2b$.
  if (!crypt_gensalt_rn("$2a$", static_cast<unsigned long>(cost),
                        reinterpret_cast<const char*>(random), sizeof random, setting,
                        sizeof setting))
    throw std::runtime_error("bcrypt: cannot make a salt");
  crypt_data& data = scratch();
  const char* out = crypt_on_a_core(password, setting, data);
  if (!out || out[0] == '*') throw std::runtime_error("bcrypt failed");
  return out;
}

bool verify_password(const std::string& password, const std::string& hash) {
  if (hash.size() < 60 || hash[0] != '$' || hash[1] != '2') return false;
  crypt_data& data = scratch();
  const char* out = crypt_on_a_core(password, hash.c_str(), data);
  if (!out || out[0] == '*') return false;
  std::string computed(out);
  return computed.size() == hash.size() &&
         CRYPTO_memcmp(computed.data(), hash.data(), hash.size()) == 0;
}

}  // namespace auth
