// GET/PUT /sandboxes/:id/files/*path — raw bytes, or JSON {content, encoding}.
#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>

#include <sstream>

#include "json_io.hpp"
#include "routes.hpp"

namespace sandboxes {

namespace {

std::string box_path(const alpaca::Request& req) {
  std::string p = "/";
  p += req.param("path");
  return p;
}

bool wants_json(const alpaca::Request& req) {
  const char* f = req.query("format");
  if (f) {
    std::string v(f);
    if (v == "json") return true;
    if (v == "raw") return false;
    throw alpaca::HttpError(400, "Unknown format '" + v + "'", "format=json or format=raw");
  }
  const char* accept = req.header("Accept");
  return accept && std::string(accept).find("application/json") != std::string::npos;
}

template <typename Fn>
auto box_call(Fn fn) {
  try {
    return fn();
  } catch (const BoxError& e) {
    throw alpaca::HttpError(e.status(), e.what(), e.detail());
  }
}

void read(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string owner = caller_owner(req);
  std::string id(req.param("id"));
  std::string path = box_path(req);
  bool json = wants_json(req);
  std::string data = box_call([&] { return svc.read_file(owner, id, path); });
  if (!json) {
    res.status(200).header("Content-Type", "application/octet-stream").send(data);
    return;
  }
  bool utf8 = true;
  valid_utf8(data, &utf8);
  std::string content;
  if (utf8) {
    content = data;
  } else {
    std::ostringstream b64;
    Poco::Base64Encoder enc(b64);
    enc.rdbuf()->setLineLength(0);
    enc << data;
    enc.close();
    content = b64.str();
  }
  res.json(200, "{\"path\":\"" + alpaca::json_escape(path) + "\",\"content\":\"" +
                    alpaca::json_escape(content) + "\",\"encoding\":\"" +
                    (utf8 ? "utf-8" : "base64") + "\",\"size\":" + std::to_string(data.size()) +
                    "}");
}

void write(Service& svc, alpaca::Request& req, alpaca::Response& res) {
  std::string owner = caller_owner(req);
  std::string id(req.param("id"));
  std::string path = box_path(req);
  svc.get(owner, id);  // 404 before reading a body for someone else's sandbox
  const char* ct = req.header("Content-Type");
  std::string data;
  if (ct && std::string(ct).find("application/json") != std::string::npos) {
    auto body = json_object_body(req);
    bool has_content = false;
    data = optional_string(body, "content", &has_content);
    if (!has_content) throw alpaca::HttpError(400, "Missing 'content'", "{\"content\": \"...\"}");
    std::string encoding = optional_string(body, "encoding", nullptr);
    if (encoding == "base64") {
      try {
        std::istringstream in(data);
        Poco::Base64Decoder dec(in);
        data.assign(std::istreambuf_iterator<char>(dec), std::istreambuf_iterator<char>());
      } catch (const std::exception&) {
        throw alpaca::HttpError(400, "'content' is not valid base64");
      }
    } else if (!encoding.empty() && encoding != "utf-8" && encoding != "utf8") {
      throw alpaca::HttpError(400, "Unknown encoding '" + encoding + "'", "utf-8 or base64");
    }
  } else {
    data = req.body();
  }
  box_call([&] {
    svc.write_file(owner, id, path, data);
    return 0;
  });
  res.json(201, "{\"path\":\"" + alpaca::json_escape(path) +
                    "\",\"size\":" + std::to_string(data.size()) + "}");
}

}  // namespace

void add_file_routes(alpaca::Host& host, Service& svc) {
  host.route(ALPACA_SCOPE_MANAGEMENT, "GET", "/sandboxes/:id/files/*path",
             [&svc](alpaca::Request& req, alpaca::Response& res) { read(svc, req, res); });
  host.route(ALPACA_SCOPE_MANAGEMENT, "PUT", "/sandboxes/:id/files/*path",
             [&svc](alpaca::Request& req, alpaca::Response& res) { write(svc, req, res); });
}

}  // namespace sandboxes
