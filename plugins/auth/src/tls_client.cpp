#include "tls_client.hpp"

#include <Poco/Net/RejectCertificateHandler.h>
#include <Poco/Net/SSLManager.h>

#include <map>
#include <mutex>

namespace auth {

Poco::Net::Context::Ptr tls_client_context(const std::string& extra_ca_file) {
  static std::mutex mu;
  static std::map<std::string, Poco::Net::Context::Ptr> contexts;
  std::lock_guard lock(mu);
  auto it = contexts.find(extra_ca_file);
  if (it != contexts.end()) return it->second;
  if (contexts.empty()) {
    Poco::Net::initializeSSL();
    // Without this Poco falls back to its console handler, which asks on stdin.
    Poco::Net::SSLManager::instance().initializeClient(
        nullptr, new Poco::Net::RejectCertificateHandler(false), nullptr);
  }
  // STRICT: Poco checks the certificate's name even for loopback hosts (RELAXED skips that).
  Poco::Net::Context::Ptr ctx =
      new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", extra_ca_file,
                             Poco::Net::Context::VERIFY_STRICT, 9, true);
  contexts.emplace(extra_ca_file, ctx);
  return ctx;
}

}  // namespace auth
