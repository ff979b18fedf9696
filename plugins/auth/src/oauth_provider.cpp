#include "oauth_provider.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>

#include <optional>

#include "json.hpp"
#include "oauth_client.hpp"
#include "service.hpp"

namespace auth {

namespace {

constexpr const char* kUserAgent = "alpaca-auth";

std::string lower(std::string s) {
  for (char& ch : s)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return s;
}

std::string short_text(const std::string& s) {
  std::string out = s.substr(0, 200);
  for (char& ch : out)
    if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
  return out;
}

Poco::Dynamic::Var parse_json(const std::string& text, const std::string& what) {
  try {
    Poco::JSON::Parser p;
    return p.parse(text);
  } catch (const std::exception&) {
    throw ProviderFailure(what + " did not answer JSON");
  }
}

Poco::Dynamic::Var get_json(const std::string& url, const std::string& access_token,
                            const std::string& what) {
  HttpReply r = http_call("GET", url,
                          {{"Authorization", "Bearer " + access_token},
                           {"Accept", "application/json"},
                           {"User-Agent", kUserAgent}});
  if (r.status != 200) throw ProviderFailure(what + " answered " + std::to_string(r.status));
  return parse_json(r.body, what);
}

// A claim as text: strings as they are, numbers in decimal; "" when absent, null or another type.
std::string claim(const Poco::JSON::Object& o, const char* key) {
  if (!o.has(key) || o.isNull(key)) return {};
  auto v = o.get(key);
  if (v.isString()) return v.extract<std::string>();
  if (v.isInteger() || v.isNumeric()) {
    try {
      return v.convert<std::string>();
    } catch (const std::exception&) {
    }
  }
  return {};
}

std::optional<bool> bool_claim(const Poco::JSON::Object& o, const char* key) {
  if (!o.has(key) || o.isNull(key)) return std::nullopt;
  auto v = o.get(key);
  if (v.type() == typeid(bool)) return v.extract<bool>();
  if (v.isString()) return lower(v.extract<std::string>()) == "true";
  return std::nullopt;
}

std::string origin_of(const std::string& url) {
  try {
    Poco::URI u(url);
    return u.getScheme() + "://" + u.getAuthority();
  } catch (const std::exception&) {
    return {};
  }
}

}  // namespace

ProviderTokens exchange_code(const OAuthProvider& p, const std::string& code,
                             const std::string& redirect_uri) {
  std::string form = "grant_type=authorization_code&code=" + url_encode(code) +
                     "&redirect_uri=" + url_encode(redirect_uri) +
                     "&client_id=" + url_encode(p.client_id) +
                     "&client_secret=" + url_encode(p.secret);
  HttpReply r =
      http_call("POST", p.token_url, {{"Accept", "application/json"}, {"User-Agent", kUserAgent}},
                form, "application/x-www-form-urlencoded");
  ProviderTokens t;
  std::string error;
  if (r.content_type.find("application/x-www-form-urlencoded") != std::string::npos ||
      r.content_type.find("text/plain") != std::string::npos) {
    // GitHub answers a form when the client does not ask for JSON.
    Poco::URI u("http://x/?" + r.body);
    for (const auto& [k, v] : u.getQueryParameters()) {
      if (k == "access_token") t.access_token = v;
      if (k == "refresh_token") t.refresh_token = v;
      if (k == "error") error = v;
    }
  } else if (!r.body.empty()) {
    auto v = parse_json(r.body, "the token endpoint");
    if (v.type() == typeid(Poco::JSON::Object::Ptr)) {
      auto o = v.extract<Poco::JSON::Object::Ptr>();
      if (o->has("access_token") && o->get("access_token").isString())
        t.access_token = o->getValue<std::string>("access_token");
      if (o->has("refresh_token") && o->get("refresh_token").isString())
        t.refresh_token = o->getValue<std::string>("refresh_token");
      if (o->has("error") && o->get("error").isString()) error = o->getValue<std::string>("error");
    }
  }
  if (r.status != 200 || t.access_token.empty())
    throw ProviderFailure("the token endpoint answered " + std::to_string(r.status) +
                          (error.empty() ? "" : " (" + short_text(error) + ")") +
                          (t.access_token.empty() ? " without an access_token" : ""));
  return t;
}

Profile fetch_profile(const OAuthProvider& p, const std::string& access_token) {
  auto v = get_json(p.userinfo_url, access_token, "the userinfo endpoint");
  if (v.type() != typeid(Poco::JSON::Object::Ptr))
    throw ProviderFailure("the userinfo endpoint did not answer a JSON object");
  const auto& info = *v.extract<Poco::JSON::Object::Ptr>();
  Profile out;
  out.id = claim(info, "sub");
  if (out.id.empty()) out.id = claim(info, "id");
  if (out.id.empty()) throw ProviderFailure("the userinfo answer has no sub or id");
  out.email = normalize_email(claim(info, "email"));
  out.username = claim(info, "login");
  if (out.username.empty()) out.username = claim(info, "preferred_username");
  out.name = claim(info, "name");
  if (out.name.empty()) out.name = out.username;
  out.avatar_url = claim(info, "avatar_url");
  if (out.avatar_url.empty()) out.avatar_url = claim(info, "picture");
  auto verified_claim = bool_claim(info, "email_verified");
  out.email_verified = verified_claim.value_or(false);

  if (!p.emails_url.empty() && (!verified_claim || out.email.empty())) {
    // GitHub: the address to use is the primary verified one of /user/emails.
    auto list = get_json(p.emails_url, access_token, "the emails endpoint");
    if (list.type() == typeid(Poco::JSON::Array::Ptr)) {
      std::string primary_verified, any_verified, primary, listed_match;
      bool listed_verified = false;
      for (const auto& item : *list.extract<Poco::JSON::Array::Ptr>()) {
        if (item.type() != typeid(Poco::JSON::Object::Ptr)) continue;
        const auto& e = *item.extract<Poco::JSON::Object::Ptr>();
        std::string address = normalize_email(claim(e, "email"));
        if (address.empty()) continue;
        bool verified = bool_claim(e, "verified").value_or(false);
        bool is_primary = bool_claim(e, "primary").value_or(false);
        if (verified && is_primary && primary_verified.empty()) primary_verified = address;
        if (verified && any_verified.empty()) any_verified = address;
        if (is_primary && primary.empty()) primary = address;
        if (address == out.email) listed_verified = listed_verified || verified;
      }
      if (!primary_verified.empty() || !any_verified.empty()) {
        out.email = !primary_verified.empty() ? primary_verified : any_verified;
        out.email_verified = true;
      } else {
        if (out.email.empty()) out.email = primary;
        out.email_verified = listed_verified;
      }
    }
  }

  Poco::JSON::Object data(true);
  auto put = [&data](const char* k, const std::string& v) {
    if (!v.empty()) data.set(k, v);
  };
  put("iss", origin_of(p.userinfo_url));
  data.set("sub", out.id);
  put("name", out.name);
  put("full_name", out.name);
  put("email", out.email);
  data.set("email_verified", out.email_verified);
  data.set("phone_verified", false);
  put("avatar_url", out.avatar_url);
  put("picture", out.avatar_url);
  data.set("provider_id", out.id);
  put("user_name", out.username);
  put("preferred_username", out.username);
  out.identity_data = to_text(data);
  return out;
}

}  // namespace auth
