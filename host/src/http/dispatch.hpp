#pragma once
// One request's path through the host: scope and project resolution, CORS, credentials,
// routing, the handler, and the log line.
namespace Poco::Net {
class HTTPServerRequest;
class HTTPServerResponse;
}  // namespace Poco::Net

namespace alpaca {
class App;
void dispatch(App& app, Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& res);
}  // namespace alpaca
