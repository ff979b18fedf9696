#pragma once
// One client connection: Poco's HTTPServerConnection run loop (keep-alive, Expect: 100-continue,
// stopping), ours so that a request Poco cannot read gets our JSON error instead of Poco's
// empty 400. The factory is what HTTPServer would make for TCPServer.
#include <Poco/BasicEvent.h>
#include <Poco/Mutex.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>

#include <atomic>

namespace alpaca {
class App;
class ConnectionFactory;

class Connection : public Poco::Net::TCPServerConnection {
 public:
  Connection(const Poco::Net::StreamSocket& socket, ConnectionFactory& factory);
  ~Connection() override;
  void run() override;

 private:
  void on_server_stopped();

  // TCPServer's dispatcher keeps the factory alive until its last connection is gone.
  ConnectionFactory& factory_;
  std::atomic<bool> stopped_{false};
  Poco::FastMutex mutex_;  // held while a request is read and answered
};

// Reads up to n bytes straight from the connection behind `session`: what it has buffered, else
// one recv of up to n bytes (Poco's body streams read 4 KiB at a time). -1 on a socket error or
// when the session is not one of ours; 0 when the client has closed.
int64_t read_from_session(Poco::Net::HTTPServerSession& session, char* buf, size_t n);

class ConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
 public:
  ConnectionFactory(App& app, Poco::Net::HTTPServerParams::Ptr params);
  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override;
  // HTTPServer::stopAll(false) after TCPServer::stop(): idle keep-alive connections close now,
  // busy ones once their current request is answered (this waits for that).
  void stop_all();

 private:
  friend class Connection;
  App& app_;
  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::BasicEvent<void> stopped_event_;  // every live connection listens
  std::atomic<bool> stopped_{false};
};

}  // namespace alpaca
