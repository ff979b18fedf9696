#pragma once
// A listening socket whose accepted connections count the bytes they receive. When Poco fails
// to read a request it says little about why (one message covers both a URI over its limit
// and a request line that ends early), so the connection tells them apart by how many bytes
// the request took before the failure.
#include <Poco/Net/ServerSocket.h>

#include <cstdint>

namespace alpaca {

class CountingServerSocket : public Poco::Net::ServerSocket {
 public:
  CountingServerSocket();
};

// Bytes read so far from a connection accepted by a CountingServerSocket (0 for other sockets).
int64_t bytes_received(const Poco::Net::StreamSocket& socket);

}  // namespace alpaca
