#include "project_settings.hpp"

#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/URI.h>

#include <functional>
#include <regex>
#include <sstream>

#include "errors.hpp"
#include "json.hpp"

namespace auth {

namespace {

struct Preset {
  const char *authorize, *token, *userinfo, *emails, *scopes;
};
const std::map<std::string, Preset>& presets() {
  static const std::map<std::string, Preset> p = {
      {"github",
       {"https://github.com/login/oauth/authorize", "https://github.com/login/oauth/access_token",
        "https://api.github.com/user", "https://api.github.com/user/emails", "user:email"}},
      {"google",
       {"https://accounts.google.com/o/oauth2/v2/auth", "https://oauth2.googleapis.com/token",
        "https://openidconnect.googleapis.com/v1/userinfo", "", "openid email profile"}},
  };
  return p;
}

std::string str(const Poco::JSON::Object& o, const std::string& k, const std::string& fallback) {
  if (!o.has(k) || o.isNull(k)) return fallback;
  auto v = o.get(k);
  return v.isString() ? v.extract<std::string>() : fallback;
}
bool boolean(const Poco::JSON::Object& o, const std::string& k, bool fallback) {
  if (!o.has(k) || o.isNull(k)) return fallback;
  auto v = o.get(k);
  return v.type() == typeid(bool) ? v.extract<bool>() : fallback;
}

void fill_presets(ProjectSettings& s) {
  for (const auto& [name, p] : presets()) {
    OAuthProvider& o = s.oauth[name];
    if (o.authorize_url.empty()) o.authorize_url = p.authorize;
    if (o.token_url.empty()) o.token_url = p.token;
    if (o.userinfo_url.empty()) o.userinfo_url = p.userinfo;
    if (o.emails_url.empty()) o.emails_url = p.emails;
    if (o.scopes.empty()) o.scopes = p.scopes;
  }
}

ProjectSettings from_json(const Poco::JSON::Object& s, const Poco::JSON::Object& secrets) {
  ProjectSettings out;
  out.site_url = str(s, "site_url", out.site_url);
  if (auto list = s.getArray("redirect_urls"))
    for (const auto& v : *list)
      if (v.isString()) out.redirect_urls.push_back(v.extract<std::string>());
  out.autoconfirm = boolean(s, "autoconfirm", false);
  out.disable_signup = boolean(s, "disable_signup", false);
  if (auto providers = s.getObject("providers")) {
    for (const auto& [name, value] : *providers) {
      if (value.type() != typeid(Poco::JSON::Object::Ptr)) continue;
      const auto& p = *value.extract<Poco::JSON::Object::Ptr>();
      if (name == "email") {
        out.email_enabled = boolean(p, "enabled", true);
        continue;
      }
      OAuthProvider& o = out.oauth[name];
      o.enabled = boolean(p, "enabled", false);
      o.client_id = str(p, "client_id", "");
      o.authorize_url = str(p, "authorize_url", "");
      o.token_url = str(p, "token_url", "");
      o.userinfo_url = str(p, "userinfo_url", "");
      o.emails_url = str(p, "emails_url", "");
      o.scopes = str(p, "scopes", "");
      o.secret = str(secrets, name, "");
    }
  }
  fill_presets(out);
  return out;
}

std::string origin(const std::string& url) {
  try {
    Poco::URI u(url);
    return u.getScheme() + "://" + u.getAuthority();
  } catch (const std::exception&) {
    return {};
  }
}

bool valid_http_url(const std::string& url) {
  try {
    Poco::URI u(url);
    return (u.getScheme() == "http" || u.getScheme() == "https") && !u.getHost().empty();
  } catch (const std::exception&) {
    return false;
  }
}

const std::regex kProviderName("[a-z][a-z0-9_-]{0,31}");

}  // namespace

bool glob_match(const std::string& pattern, const std::string& text) {
  // Iterative matcher: '**' any run, '*' any run without '/' or '.', '?' one such character.
  size_t p = 0, t = 0;
  if (pattern.find('*') == std::string::npos && pattern.find('?') == std::string::npos)
    return pattern == text;
  std::function<bool(size_t, size_t)> m = [&](size_t pi, size_t ti) -> bool {
    while (pi < pattern.size()) {
      if (pattern.compare(pi, 2, "**") == 0) {
        for (size_t k = ti; k <= text.size(); ++k)
          if (m(pi + 2, k)) return true;
        return false;
      }
      if (pattern[pi] == '*') {
        for (size_t k = ti; k <= text.size(); ++k) {
          if (m(pi + 1, k)) return true;
          if (k < text.size() && (text[k] == '/' || text[k] == '.')) break;
        }
        return false;
      }
      if (ti >= text.size()) return false;
      if (pattern[pi] == '?') {
        if (text[ti] == '/' || text[ti] == '.') return false;
      } else if (pattern[pi] != text[ti]) {
        return false;
      }
      ++pi;
      ++ti;
    }
    return ti == text.size();
  };
  (void)t;
  return m(p, 0);
}

ProjectSettings ProjectSettings::load(Tx& tx) {
  auto row = tx.value(
      "SELECT json_build_object('s', settings, 'k', secrets)::text FROM auth.alpaca_settings");
  if (!row) {
    ProjectSettings s;
    fill_presets(s);
    return s;
  }
  auto o = parse_object(*row);
  return from_json(*o->getObject("s"), *o->getObject("k"));
}

Poco::JSON::Object::Ptr ProjectSettings::to_json() const {
  Poco::JSON::Object::Ptr out = new Poco::JSON::Object(true);
  out->set("site_url", site_url);
  Poco::JSON::Array::Ptr urls = new Poco::JSON::Array;
  for (const auto& u : redirect_urls) urls->add(u);
  out->set("redirect_urls", urls);
  out->set("autoconfirm", autoconfirm);
  out->set("disable_signup", disable_signup);
  Poco::JSON::Object::Ptr providers = new Poco::JSON::Object(true);
  Poco::JSON::Object::Ptr email = new Poco::JSON::Object(true);
  email->set("enabled", email_enabled);
  providers->set("email", email);
  for (const auto& [name, o] : oauth) {
    Poco::JSON::Object::Ptr p = new Poco::JSON::Object(true);
    p->set("enabled", o.enabled);
    p->set("client_id", o.client_id);
    p->set("secret_set", !o.secret.empty());
    p->set("authorize_url", o.authorize_url);
    p->set("token_url", o.token_url);
    p->set("userinfo_url", o.userinfo_url);
    p->set("emails_url", o.emails_url);
    p->set("scopes", o.scopes);
    providers->set(name, p);
  }
  out->set("providers", providers);
  return out;
}

std::string ProjectSettings::public_settings_json() const {
  Poco::JSON::Object external(true);
  external.set("anonymous_users", false);
  external.set("email", email_enabled);
  external.set("phone", false);
  for (const auto& [name, o] : oauth) external.set(name, o.enabled);
  Poco::JSON::Object out(true);
  out.set("external", external);
  out.set("disable_signup", disable_signup);
  out.set("mailer_autoconfirm", autoconfirm);
  out.set("phone_autoconfirm", false);
  out.set("sms_provider", "");
  out.set("saml_enabled", false);
  return to_text(out);
}

bool ProjectSettings::redirect_allowed(const std::string& url) const {
  if (url.empty() || !valid_http_url(url)) return false;
  std::string o = origin(url);
  if (!o.empty() && o == origin(site_url)) return true;
  for (const auto& pattern : redirect_urls)
    if (glob_match(pattern, url)) return true;
  return false;
}

std::string ProjectSettings::pick_redirect(const std::string& requested) const {
  return redirect_allowed(requested) ? requested : site_url;
}

ProjectSettings patch_settings(Tx& tx, const Poco::JSON::Object& patch) {
  auto row = tx.value(
      "SELECT json_build_object('s', settings, 'k', secrets)::text FROM auth.alpaca_settings "
      "FOR UPDATE");
  Poco::JSON::Object::Ptr stored = row ? parse_object(*row) : nullptr;
  Poco::JSON::Object::Ptr s =
      stored ? stored->getObject("s") : Poco::JSON::Object::Ptr(new Poco::JSON::Object);
  Poco::JSON::Object::Ptr k =
      stored ? stored->getObject("k") : Poco::JSON::Object::Ptr(new Poco::JSON::Object);

  auto need_bool = [](const Poco::Dynamic::Var& v, const std::string& field) {
    if (v.type() != typeid(bool)) throw validation(field + " must be true or false");
    return v.extract<bool>();
  };
  auto need_string = [](const Poco::Dynamic::Var& v, const std::string& field) {
    if (!v.isString()) throw validation(field + " must be a string");
    return v.extract<std::string>();
  };
  auto need_url = [&](const Poco::Dynamic::Var& v, const std::string& field) {
    std::string u = need_string(v, field);
    if (!u.empty() && !valid_http_url(u)) throw validation(field + " must be an http(s) URL");
    return u;
  };

  for (const auto& [key, value] : patch) {
    if (key == "site_url") {
      std::string u = need_url(value, "site_url");
      if (u.empty()) throw validation("site_url must be an http(s) URL");
      s->set(key, u);
    } else if (key == "redirect_urls") {
      if (value.type() != typeid(Poco::JSON::Array::Ptr))
        throw validation("redirect_urls must be an array of URL patterns");
      Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
      for (const auto& u : *value.extract<Poco::JSON::Array::Ptr>()) {
        if (!u.isString() || u.extract<std::string>().empty())
          throw validation("redirect_urls must be an array of URL patterns");
        list->add(u);
      }
      s->set(key, list);
    } else if (key == "autoconfirm" || key == "disable_signup") {
      s->set(key, need_bool(value, key));
    } else if (key == "providers") {
      if (value.type() != typeid(Poco::JSON::Object::Ptr))
        throw validation("providers must be an object keyed by provider name");
      Poco::JSON::Object::Ptr providers = s->getObject("providers");
      if (!providers) {
        providers = new Poco::JSON::Object;
        s->set("providers", providers);
      }
      for (const auto& [name, pv] : *value.extract<Poco::JSON::Object::Ptr>()) {
        if (!std::regex_match(name, kProviderName))
          throw validation("provider names are 1-32 of [a-z0-9_-], starting with a letter: '" +
                           name + "'");
        if (pv.type() != typeid(Poco::JSON::Object::Ptr))
          throw validation("providers." + name + " must be an object");
        Poco::JSON::Object::Ptr p = providers->getObject(name);
        if (!p) {
          p = new Poco::JSON::Object;
          providers->set(name, p);
        }
        for (const auto& [field, fv] : *pv.extract<Poco::JSON::Object::Ptr>()) {
          std::string where = "providers." + name + "." + field;
          if (field == "enabled") {
            p->set(field, need_bool(fv, where));
          } else if (name == "email") {
            throw validation("unknown setting " + where + " (email has only enabled)");
          } else if (field == "secret") {
            if (fv.isEmpty())
              k->remove(name);
            else
              k->set(name, need_string(fv, where));
          } else if (field == "client_id" || field == "scopes") {
            p->set(field, need_string(fv, where));
          } else if (field == "authorize_url" || field == "token_url" || field == "userinfo_url" ||
                     field == "emails_url") {
            p->set(field, need_url(fv, where));
          } else {
            throw validation("unknown setting " + where);
          }
        }
      }
    } else {
      throw validation("unknown setting '" + key +
                       "' (site_url, redirect_urls, autoconfirm, disable_signup, providers)");
    }
  }
  ProjectSettings result = from_json(*s, *k);
  for (const auto& [name, o] : result.oauth) {
    if (!o.enabled) continue;
    if (o.client_id.empty() || o.secret.empty())
      throw validation("providers." + name + " needs client_id and secret to be enabled");
    if (o.authorize_url.empty() || o.token_url.empty() || o.userinfo_url.empty())
      throw validation("providers." + name +
                       " needs authorize_url, token_url and userinfo_url to be enabled");
  }
  tx.exec(
      "INSERT INTO auth.alpaca_settings (id, settings, secrets, updated_at) "
      "VALUES (true, $1::jsonb, $2::jsonb, now()) ON CONFLICT (id) DO UPDATE "
      "SET settings = EXCLUDED.settings, secrets = EXCLUDED.secrets, updated_at = now()",
      {to_text(s), to_text(k)});
  return result;
}

}  // namespace auth
