#pragma once
// TLS for the plugin's outgoing connections (SMTP, OAuth providers): certificates are verified
// against the system CAs plus an optional extra CA file, and a certificate that fails is refused
// (never a prompt: Poco's default handler would ask on the console).
#include <Poco/Net/Context.h>

#include <string>

namespace auth {

// One context per extra CA file ("" = system CAs only); made once, shared by all threads.
Poco::Net::Context::Ptr tls_client_context(const std::string& extra_ca_file = "");

}  // namespace auth
