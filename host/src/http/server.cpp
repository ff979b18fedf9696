#include "http/server.hpp"

#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/ThreadPool.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "core/app.hpp"
#include "http/connection.hpp"
#include "http/counting_socket.hpp"

namespace alpaca {

HttpServer::HttpServer(App& app) : app_(app) {}
HttpServer::~HttpServer() {
  stop();
}

void HttpServer::start() {
  const auto& s = app_.settings();
  Poco::Net::SocketAddress addr(s.http_host, static_cast<Poco::UInt16>(s.http_port));
  CountingServerSocket socket;
  socket.bind(addr, true, false);
  socket.listen(128);
  Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(s.http_threads);
  params->setMaxQueued(s.http_queue);
  params->setKeepAlive(true);
  params->setMaxKeepAliveRequests(0);  // unlimited
  params->setKeepAliveTimeout(Poco::Timespan(15, 0));
  params->setTimeout(Poco::Timespan(60, 0));
  params->setServerName("alpaca");
  // Threads are made on demand and retired after 60 s idle, so an idle server stays small.
  pool_ = std::make_unique<Poco::ThreadPool>("http", 2, s.http_threads, 60);
  factory_ = new ConnectionFactory(app_, params);
  server_ = std::make_unique<Poco::Net::TCPServer>(factory_, *pool_, socket, params);
  server_->start();
  spdlog::info("listening on http://{}:{} ({} worker threads max)", s.http_host, s.http_port,
               s.http_threads);
}

void HttpServer::stop() {
  if (!server_) return;
  // Poco's HTTPServer::stopAll(false): stop accepting; idle keep-alive connections are closed,
  // busy ones finish their request.
  server_->stop();
  factory_->stop_all();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (server_->currentConnections() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  pool_->joinAll();
  server_.reset();
  factory_.reset();
  pool_.reset();
}

}  // namespace alpaca
