#include <gpuorch/sandbox/server.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <gpuorch/model/api_status.hpp>
#include <gpuorch/sandbox/compression.hpp>
#include <gpuorch/sandbox/openapi.hpp>
#include <gpuorch/sandbox/patch.hpp>
#include <gpuorch/sandbox/protobuf.hpp>
#include <gpuorch/sandbox/table.hpp>

namespace gpuorch::sandbox {
namespace {

using nlohmann::json;
using Clock = std::chrono::system_clock;

const char* k_json = "application/json";

std::string reason_for(int code) {
  return std::string(model::status_reason_for_code(code));
}

/// metav1.Status for a failure.
json status_json(int code, const std::string& reason, const std::string& message, const json& details = nullptr) {
  json s = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
            {"status", "Failure"}, {"message", message}, {"reason", reason},
            {"code", code}};
  if (details.is_object() && !details.empty()) {
    s["details"] = details;
  }
  return s;
}

int http_code_of(const Error& e) {
  if (e.http_status() != 0) {
    return e.http_status();
  }
  switch (e.code()) {
    case ErrorCode::invalid:
    case ErrorCode::usage:
      return 400;
    case ErrorCode::not_found:
      return 404;
    case ErrorCode::conflict:
      return 409;
    case ErrorCode::auth:
      return 403;
    default:
      return 500;
  }
}

std::string base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) {
    return false;
  }
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = static_cast<unsigned char>(diff | (a[i] ^ b[i]));
  }
  return diff == 0;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < path.size()) {
    const auto slash = path.find('/', start);
    const std::string part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!part.empty()) {
      out.push_back(part);
    }
    if (slash == std::string::npos) {
      break;
    }
    start = slash + 1;
  }
  return out;
}

// Kubernetes version priority: GA before beta before alpha, higher first.
int version_rank(const std::string& v, int& major, int& minor) {
  major = 0;
  minor = 0;
  if (v.size() < 2 || v[0] != 'v') {
    return 3;
  }
  std::size_t i = 1;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) {
    major = major * 10 + (v[i] - '0');
    ++i;
  }
  if (i == v.size()) {
    return 0;
  }
  const std::string rest = v.substr(i);
  int rank = 3;
  std::string num;
  if (rest.starts_with("beta")) {
    rank = 1;
    num = rest.substr(4);
  } else if (rest.starts_with("alpha")) {
    rank = 2;
    num = rest.substr(5);
  }
  minor = num.empty() ? 0 : std::atoi(num.c_str());
  return rank;
}

bool version_before(const std::string& a, const std::string& b) {
  int ma = 0;
  int na = 0;
  int mb = 0;
  int nb = 0;
  const int ra = version_rank(a, ma, na);
  const int rb = version_rank(b, mb, nb);
  if (ra != rb) {
    return ra < rb;
  }
  if (ma != mb) {
    return ma > mb;
  }
  if (na != nb) {
    return na > nb;
  }
  return a < b;
}

struct MediaWants {
  bool table = false;
  bool partial_metadata = false;
};

MediaWants parse_accept(const std::string& accept) {
  MediaWants wants;
  std::size_t start = 0;
  while (start <= accept.size()) {
    const auto comma = accept.find(',', start);
    const std::string range = accept.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const bool json_type = range.find("application/json") != std::string::npos;
    if (json_type && range.find("as=Table") != std::string::npos && range.find("g=meta.k8s.io") != std::string::npos) {
      wants.table = true;
      return wants;
    }
    if (json_type && range.find("as=PartialObjectMetadata") != std::string::npos) {
      wants.partial_metadata = true;
      return wants;
    }
    if (json_type || range.find("*/*") != std::string::npos) {
      return wants;  // the first acceptable plain form wins
    }
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  return wants;
}

json partial_metadata(const json& object) {
  return {{"kind", "PartialObjectMetadata"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", object.value("metadata", json::object())}};
}

// Where a request points.
struct Route {
  enum class Kind {
    health,
    version,
    api_versions,
    group_list,
    group,
    resource_list,
    resource,
    control,
    openapi_root,
    openapi_group_version,
    openapi_v2,
    unknown
  };
  Kind kind = Kind::unknown;
  std::string group;
  std::string version;
  std::string ns;
  std::string plural;
  std::string name;
  std::string sub;
  bool ns_in_path = false;
};

}  // namespace

struct ApiServer::Impl {
  Impl(Store& s, FaultInjector& f, ServerOptions o) : store(s), faults(f), options(std::move(o)) {}

  Store& store;
  FaultInjector& faults;
  ServerOptions options;
  std::unique_ptr<httplib::Server> server;
  std::thread thread;
  int port = 0;
  std::atomic<bool> stopping{false};
  ControlHandler control;
  mutable std::mutex counts_mutex;
  std::map<int, std::uint64_t> counts;

  void count(int code) {
    std::lock_guard lock(counts_mutex);
    ++counts[code];
  }

  /// Decides the response's Content-Encoding as kube-apiserver does (gzip
  /// for bodies of 128 KiB and more when the client offers it, small ones
  /// plain) and hands the body to httplib as a sized content provider.
  /// cpp-httplib would otherwise compress every JSON body itself, brotli first,
  /// and it leaves sized providers alone. Streams (watch, dropped
  /// connections) have no body here and are not touched.
  void encode_body(const httplib::Request& req, httplib::Response& res) {
    if (res.body.empty() || res.content_length_ > 0) {
      return;
    }
    auto body = std::make_shared<std::string>(std::move(res.body));
    res.body.clear();
    if (response_encoding(req.get_header_value("Accept-Encoding"), body->size()) == "gzip") {
      auto compressed = gzip_compress(*body);
      if (compressed.ok()) {
        *body = std::move(*compressed);
        res.set_header("Content-Encoding", "gzip");
        res.set_header("Vary", "Accept-Encoding");
      } else {
        spdlog::warn("sandbox: sending a response uncompressed: {}", compressed.error().message());
      }
    }
    const std::string content_type = res.get_header_value("Content-Type");
    res.headers.erase("Content-Type");
    const std::size_t size = body->size();
    res.set_content_provider(size, content_type,
                             [body](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                               return sink.write(body->data() + offset, length);
                             });
  }

  void reply(httplib::Response& res, int code, const json& body) {
    res.status = code;
    res.set_content(body.dump(), k_json);
  }

  void reply_error(httplib::Response& res, const Error& e, const Route& route, const std::string& name) {
    const int code = http_code_of(e);
    const std::string reason = e.reason().empty() ? reason_for(code) : e.reason();
    json details = json::object();
    if (!name.empty()) {
      details["name"] = name;
    }
    if (!route.plural.empty() && (code == 404 || code == 409 || code == 422 || code == 403)) {
      details["group"] = route.group;
      const auto type = store.find_type(route.group, route.version, route.plural);
      details["kind"] = (code == 422 && type) ? type->kind : route.plural;
    }
    if (!e.causes().empty()) {
      json causes = json::array();
      for (const FieldCause& c : e.causes()) {
        causes.push_back({{"reason", c.reason.empty() ? "FieldValueInvalid" : c.reason},
                          {"message", c.message},
                          {"field", c.field}});
      }
      details["causes"] = causes;
    }
    if (e.retry_after_seconds() > 0) {
      details["retryAfterSeconds"] = e.retry_after_seconds();
      res.set_header("Retry-After", std::to_string(e.retry_after_seconds()));
    }
    reply(res, code, status_json(code, reason, e.message(), details));
  }

  Route route_of(const std::string& path) const {
    Route r;
    const auto parts = split_path(path);
    if (path == "/healthz" || path == "/livez" || path == "/readyz") {
      r.kind = Route::Kind::health;
      return r;
    }
    if (path == "/version" || path == "/version/") {
      r.kind = Route::Kind::version;
      return r;
    }
    if (parts.size() >= 2 && parts[0] == "sandbox" && parts[1] == "v1") {
      r.kind = Route::Kind::control;
      return r;
    }
    if (parts.size() == 2 && parts[0] == "openapi" && parts[1] == "v2") {
      r.kind = Route::Kind::openapi_v2;
      return r;
    }
    if (parts.size() >= 2 && parts[0] == "openapi" && parts[1] == "v3") {
      if (parts.size() == 2) {
        r.kind = Route::Kind::openapi_root;
      } else if (parts.size() == 4 && parts[2] == "api") {
        r.kind = Route::Kind::openapi_group_version;
        r.version = parts[3];
      } else if (parts.size() == 5 && parts[2] == "apis") {
        r.kind = Route::Kind::openapi_group_version;
        r.group = parts[3];
        r.version = parts[4];
      }
      return r;
    }
    std::size_t rest = 0;
    if (!parts.empty() && parts[0] == "api") {
      if (parts.size() == 1) {
        r.kind = Route::Kind::api_versions;
        return r;
      }
      r.version = parts[1];
      rest = 2;
    } else if (!parts.empty() && parts[0] == "apis") {
      if (parts.size() == 1) {
        r.kind = Route::Kind::group_list;
        return r;
      }
      r.group = parts[1];
      if (parts.size() == 2) {
        r.kind = Route::Kind::group;
        return r;
      }
      r.version = parts[2];
      rest = 3;
    } else {
      return r;
    }
    if (parts.size() == rest) {
      r.kind = Route::Kind::resource_list;
      return r;
    }
    std::vector<std::string> tail(parts.begin() + static_cast<std::ptrdiff_t>(rest), parts.end());
    if (tail.size() >= 3 && tail[0] == "namespaces") {
      const auto t = store.find_type(r.group, r.version, tail[2]);
      if (t && t->namespaced) {
        r.ns = tail[1];
        r.ns_in_path = true;
        tail.erase(tail.begin(), tail.begin() + 2);
      }
    }
    if (tail.size() > 3) {
      return r;
    }
    r.kind = Route::Kind::resource;
    r.plural = tail[0];
    if (tail.size() >= 2) {
      r.name = tail[1];
    }
    if (tail.size() == 3) {
      r.sub = tail[2];
    }
    return r;
  }

  // ---- discovery --------------------------------------------------------------

  json resource_list(const std::string& group, const std::string& version) const {
    json resources = json::array();
    for (const ResourceType& t : store.types()) {
      if (t.group != group || t.version != version) {
        continue;
      }
      json r = {{"name", t.plural},
                {"singularName", t.singular},
                {"namespaced", t.namespaced},
                {"kind", t.kind},
                {"verbs", {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}}};
      if (!t.short_names.empty()) {
        r["shortNames"] = t.short_names;
      }
      if (!t.categories.empty()) {
        r["categories"] = t.categories;
      }
      resources.push_back(r);
      if (t.status_subresource) {
        resources.push_back({{"name", t.plural + "/status"},
                             {"singularName", ""},
                             {"namespaced", t.namespaced},
                             {"kind", t.kind},
                             {"verbs", {"get", "patch", "update"}}});
      }
      if (t.group.empty() && t.plural == "pods") {
        resources.push_back({{"name", "pods/binding"},
                             {"singularName", ""},
                             {"namespaced", true},
                             {"kind", "Binding"},
                             {"verbs", {"create"}}});
      }
    }
    return {{"kind", "APIResourceList"},
            {"apiVersion", "v1"},
            {"groupVersion", group.empty() ? version : group + "/" + version},
            {"resources", resources}};
  }

  json group_json(const std::string& group) const {
    std::vector<std::string> versions;
    for (const ResourceType& t : store.types()) {
      if (t.group == group && std::find(versions.begin(), versions.end(), t.version) == versions.end()) {
        versions.push_back(t.version);
      }
    }
    if (versions.empty()) {
      return nullptr;
    }
    std::sort(versions.begin(), versions.end(), version_before);
    json vs = json::array();
    for (const auto& v : versions) {
      vs.push_back({{"groupVersion", group + "/" + v}, {"version", v}});
    }
    return {{"name", group}, {"versions", vs}, {"preferredVersion", vs[0]}};
  }

  // ---- aggregated discovery (apidiscovery.k8s.io/v2) ------------------------
  // One document for /api and one for /apis with every group, version and
  // resource: what kubectl 1.32 asks for first.

  static json aggregated_resource(const ResourceType& t) {
    json r = {{"resource", t.plural},
              {"responseKind", {{"group", ""}, {"version", ""}, {"kind", t.kind}}},
              {"scope", t.namespaced ? "Namespaced" : "Cluster"},
              {"singularResource", t.singular},
              {"verbs", {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}}};
    if (!t.short_names.empty()) {
      r["shortNames"] = t.short_names;
    }
    if (!t.categories.empty()) {
      r["categories"] = t.categories;
    }
    json subs = json::array();
    if (t.status_subresource) {
      subs.push_back({{"subresource", "status"},
                      {"responseKind", {{"group", ""}, {"version", ""}, {"kind", t.kind}}},
                      {"verbs", {"get", "patch", "update"}}});
    }
    if (t.group.empty() && t.plural == "pods") {
      subs.push_back({{"subresource", "binding"},
                      {"responseKind", {{"group", ""}, {"version", ""}, {"kind", "Binding"}}},
                      {"verbs", {"create"}}});
    }
    if (!subs.empty()) {
      r["subresources"] = subs;
    }
    return r;
  }

  /// apidiscovery.k8s.io/v2 (or v2beta1) APIGroupDiscoveryList: the core
  /// group alone (`legacy`, for /api) or every named group (/apis).
  json aggregated_discovery(bool legacy, const std::string& api_version) const {
    std::vector<std::string> groups;
    std::map<std::string, std::vector<std::string>> versions;
    const std::vector<ResourceType> types = store.types();
    for (const ResourceType& t : types) {
      if (t.group.empty() != legacy) {
        continue;
      }
      if (std::find(groups.begin(), groups.end(), t.group) == groups.end()) {
        groups.push_back(t.group);
      }
      auto& vs = versions[t.group];
      if (std::find(vs.begin(), vs.end(), t.version) == vs.end()) {
        vs.push_back(t.version);
      }
    }
    json items = json::array();
    for (const std::string& g : groups) {
      auto& vs = versions[g];
      std::sort(vs.begin(), vs.end(), version_before);
      json vlist = json::array();
      for (const std::string& v : vs) {
        json resources = json::array();
        for (const ResourceType& t : types) {
          if (t.group == g && t.version == v) {
            resources.push_back(aggregated_resource(t));
          }
        }
        vlist.push_back({{"version", v}, {"resources", resources}, {"freshness", "Current"}});
      }
      json meta = {{"creationTimestamp", nullptr}};
      if (!g.empty()) {
        meta["name"] = g;
      }
      items.push_back({{"metadata", meta}, {"versions", vlist}});
    }
    return {
        {"kind", "APIGroupDiscoveryList"}, {"apiVersion", api_version}, {"metadata", json::object()}, {"items", items}};
  }

  /// The aggregated discovery version the Accept header asks for first
  /// ("v2", "v2beta1"), or "" for the legacy documents.
  static std::string wants_aggregated(const std::string& accept) {
    std::size_t start = 0;
    while (start <= accept.size()) {
      const auto comma = accept.find(',', start);
      const std::string range = accept.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (range.find("as=APIGroupDiscoveryList") != std::string::npos &&
          range.find("g=apidiscovery.k8s.io") != std::string::npos) {
        if (range.find("v=v2beta1") != std::string::npos) {
          return "v2beta1";
        }
        if (range.find("v=v2") != std::string::npos) {
          return "v2";
        }
      } else if (range.find("application/json") != std::string::npos || range.find("*/*") != std::string::npos) {
        return "";
      }
      if (comma == std::string::npos) {
        break;
      }
      start = comma + 1;
    }
    return "";
  }

  json group_list() const {
    std::vector<std::string> groups;
    for (const ResourceType& t : store.types()) {
      if (!t.group.empty() && std::find(groups.begin(), groups.end(), t.group) == groups.end()) {
        groups.push_back(t.group);
      }
    }
    json out = json::array();
    for (const auto& g : groups) {
      out.push_back(group_json(g));
    }
    return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", out}};
  }

  // ---- OpenAPI v3 -----------------------------------------------------------
  // Paths with their parameters (the PATCH operations' fieldValidation
  // parameter tells kubectl that the server validates fields itself) and
  // the component schemas `kubectl explain` reads.

  static json query_param(const char* name, const char* type = "string") {
    return {{"name", name}, {"in", "query"}, {"schema", {{"type", type}, {"uniqueItems", true}}}};
  }

  static json operation(const ResourceType& t, const char* action, const json& params) {
    return {{"operationId", std::string(action) + t.kind},
            {"x-kubernetes-action", action},
            {"x-kubernetes-group-version-kind", {{"group", t.group}, {"version", t.version}, {"kind", t.kind}}},
            {"parameters", params},
            {"responses", {{"200", {{"description", "OK"}}}}}};
  }

  json openapi_group_version(const std::string& group, const std::string& version) const {
    json paths = json::object();
    std::vector<ResourceType> served;
    bool any = false;
    const json write_params =
        json::array({query_param("dryRun"), query_param("fieldManager"), query_param("fieldValidation")});
    json patch_params = write_params;
    patch_params.push_back(query_param("force", "boolean"));
    for (const ResourceType& t : store.types()) {
      if (t.group != group || t.version != version) {
        continue;
      }
      any = true;
      served.push_back(t);
      const std::string prefix = (group.empty() ? "/api/" + version : "/apis/" + group + "/" + version) +
                                 (t.namespaced ? "/namespaces/{namespace}/" : "/") + t.plural;
      paths[prefix] = {
          {"get", operation(t, "list", json::array({query_param("labelSelector"), query_param("fieldSelector")}))},
          {"post", operation(t, "post", write_params)}};
      paths[prefix + "/{name}"] = {{"get", operation(t, "get", json::array())},
                                   {"put", operation(t, "put", write_params)},
                                   {"patch", operation(t, "patch", patch_params)},
                                   {"delete", operation(t, "delete", json::array({query_param("dryRun")}))}};
      if (t.status_subresource) {
        paths[prefix + "/{name}/status"] = {{"get", operation(t, "get", json::array())},
                                            {"put", operation(t, "put", write_params)},
                                            {"patch", operation(t, "patch", patch_params)}};
      }
    }
    if (!any) {
      return nullptr;
    }
    return {{"openapi", "3.0.0"},
            {"info", {{"title", "Kubernetes"}, {"version", options.server_version}}},
            {"paths", paths},
            {"components", {{"schemas", openapi_schemas(served)}}}};
  }

  json openapi_root() const {
    json paths = json::object();
    std::vector<std::pair<std::string, std::string>> gvs;
    for (const ResourceType& t : store.types()) {
      const auto gv = std::make_pair(t.group, t.version);
      if (std::find(gvs.begin(), gvs.end(), gv) == gvs.end()) {
        gvs.push_back(gv);
      }
    }
    for (const auto& [group, version] : gvs) {
      const std::string key = group.empty() ? "api/" + version : "apis/" + group + "/" + version;
      // The hash names the content: kubectl caches a document under it.
      const std::string hash = std::to_string(std::hash<std::string>{}(openapi_group_version(group, version).dump()));
      paths[key] = {{"serverRelativeURL", "/openapi/v3/" + key + "?hash=" + hash}};
    }
    return {{"paths", paths}};
  }

  json version_json() const {
    std::string minor = options.server_version;
    const auto dot = minor.find('.');
    const std::string major = dot == std::string::npos ? "1" : minor.substr(1, dot - 1);
    minor = dot == std::string::npos ? "0" : minor.substr(dot + 1);
    minor = minor.substr(0, minor.find('.'));
    return {{"major", major},
            {"minor", minor},
            {"gitVersion", options.server_version},
            {"gitCommit", "gpuorch-sandbox"},
            {"gitTreeState", "clean"},
            {"buildDate", "2026-01-01T00:00:00Z"},
            {"goVersion", "n/a"},
            {"compiler", "gpuorch"},
            {"platform", "linux/amd64"}};
  }

  // ---- request handling -------------------------------------------------------

  static std::string verb_of(const std::string& method, const Route& r, bool watch) {
    if (method == "GET") {
      return r.name.empty() ? (watch ? "watch" : "list") : "get";
    }
    if (method == "POST") {
      return "create";
    }
    if (method == "PUT") {
      return "update";
    }
    if (method == "PATCH") {
      return "patch";
    }
    if (method == "DELETE") {
      return r.name.empty() ? "deletecollection" : "delete";
    }
    return method;
  }

  static bool truthy(const std::string& v) { return v == "true" || v == "1"; }

  std::string field_manager(const httplib::Request& req) const {
    std::string m = req.get_param_value("fieldManager");
    if (m.empty()) {
      m = req.get_header_value("User-Agent");
      m = m.substr(0, m.find('/'));
      if (m.empty()) {
        m = "unknown";
      }
    }
    return m;
  }

  Result<json> parse_request_body(const httplib::Request& req) const {
    const std::string ct = req.get_header_value("Content-Type");
    const std::string base = ct.substr(0, ct.find(';'));
    if (base.empty() || base == "application/json") {
      return parse_body(req.body, false);
    }
    if (base == "application/yaml" || base == "application/x-yaml" || base == "text/yaml") {
      return parse_body(req.body, true);
    }
    if (base == "application/vnd.kubernetes.protobuf") {
      return decode_kubernetes_protobuf(req.body);
    }
    return Error(ErrorCode::invalid,
                 "the body of the request was in an unknown format - accepted media types "
                 "include: application/json, application/yaml")
        .with_http(415, "UnsupportedMediaType");
  }

  // fieldValidation: Strict rejects undeclared fields with 400, Warn (the
  // server's default) answers with Warning headers, Ignore does nothing.
  // Returns false when the request was answered.
  bool check_fields(const httplib::Request& req, httplib::Response& res, const ResourceType& type,
                    const json& body) const {
    const std::string directive = req.get_param_value("fieldValidation");
    if (directive == "Ignore" || !type.unknown_fields || !body.is_object()) {
      return true;
    }
    const std::vector<std::string> unknown = type.unknown_fields(body);
    if (unknown.empty()) {
      return true;
    }
    if (directive == "Strict") {
      std::string message = "strict decoding error: ";
      for (std::size_t i = 0; i < unknown.size(); ++i) {
        message += (i == 0 ? "" : ", ") + std::string("unknown field \"") + unknown[i] + "\"";
      }
      res.status = 400;
      res.set_content(status_json(400, "BadRequest", message).dump(), k_json);
      return false;
    }
    for (const std::string& field : unknown) {
      res.set_header("Warning", "299 - \"unknown field \\\"" + field + "\\\"\"");
    }
    return true;
  }

  // A stored object as the requested resource shows it: its apiVersion,
  // and its field names for resources that are views of other storage.
  /// Whether present() would leave `object` as it is (the common case: a
  /// stored object of the resource it is served as).
  static bool presented(const json& object, const ResourceType& type) {
    if (!object.is_object() || !type.field_renames.empty()) {
      return !object.is_object();
    }
    const auto it = object.find("apiVersion");
    return it != object.end() && it->is_string() && it->get_ref<const std::string&>() == type.api_version();
  }

  void present(json& object, const ResourceType& type) const {
    if (!object.is_object()) {
      return;
    }
    if (!type.field_renames.empty()) {
      object = type.to_external(std::move(object));
    }
    object["apiVersion"] = type.api_version();
  }

  /// The resource whose objects `type` serves: itself, or for a view
  /// (events.k8s.io/v1 Events) the resource that stores them.
  ResourceType storage_of(const ResourceType& type) const {
    if (type.storage_group == type.group) {
      return type;
    }
    for (const ResourceType& t : store.types()) {
      if (t.group == type.storage_group && t.plural == type.plural) {
        return t;
      }
    }
    return type;
  }

  /// A Table of stored objects, columns as for the storing resource, row
  /// objects in the requested resource's form.
  json table_of(const ResourceType& type, const std::vector<const json*>& stored, IncludeObject include,
                bool with_columns = true) const {
    const ResourceType st = storage_of(type);
    std::vector<json> copies;
    copies.reserve(stored.size());
    std::vector<const json*> objects;
    for (const json* o : stored) {
      copies.push_back(*o);
      present(copies.back(), st);
    }
    for (const json& c : copies) {
      objects.push_back(&c);
    }
    json table = to_table(st, objects, include, Clock::now(), with_columns);
    if (!type.field_renames.empty()) {
      for (json& row : table["rows"]) {
        if (row.contains("object") && row["object"].value("kind", "") != "PartialObjectMetadata") {
          present(row["object"], type);
        }
      }
    }
    return table;
  }

  /// Field selectors name the stored fields ("regarding.name" of an
  /// events.k8s.io Event selects on "involvedObject.name").
  static std::string stored_field_selector(const ResourceType& type, const std::string& selector) {
    if (type.field_renames.empty() || selector.empty()) {
      return selector;
    }
    std::string out;
    std::size_t start = 0;
    while (start <= selector.size()) {
      const auto comma = selector.find(',', start);
      std::string term = selector.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      for (const auto& [external, stored] : type.field_renames) {
        if (term.starts_with(external) && term.size() > external.size() &&
            (term[external.size()] == '.' || term[external.size()] == '=' || term[external.size()] == '!')) {
          term = stored + term.substr(external.size());
          break;
        }
      }
      out += (out.empty() ? "" : ",") + term;
      if (comma == std::string::npos) {
        break;
      }
      start = comma + 1;
    }
    return out;
  }

  /// A request body in the storing resource's field names (patch documents
  /// too: JSON patch paths are renamed by their first segment).
  json to_stored(const ResourceType& type, json body) const {
    if (type.field_renames.empty()) {
      return body;
    }
    if (body.is_array()) {
      for (json& op : body) {
        for (const char* key : {"path", "from"}) {
          if (!op.is_object() || !op.contains(key) || !op[key].is_string()) {
            continue;
          }
          std::string path = op[key].get<std::string>();
          for (const auto& [external, stored] : type.field_renames) {
            const std::string prefix = "/" + external;
            if (path == prefix || path.starts_with(prefix + "/")) {
              path = "/" + stored + path.substr(prefix.size());
              break;
            }
          }
          op[key] = path;
        }
      }
      return body;
    }
    body = type.to_stored(std::move(body));
    if (body.is_object() && body.contains("apiVersion")) {
      body["apiVersion"] = storage_of(type).api_version();
    }
    return body;
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    const Route route = route_of(req.path);
    if (route.kind == Route::Kind::health) {
      res.set_content("ok", "text/plain");
      return;
    }
    const std::string auth = req.get_header_value("Authorization");
    if (!constant_time_equal(auth, "Bearer " + options.token)) {
      reply(res, 401, status_json(401, "Unauthorized", "Unauthorized"));
      return;
    }
    if (req.body.size() > options.max_body_bytes) {
      reply(res, 413,
            status_json(413, "RequestEntityTooLarge",
                        "Request entity too large: limit is " + std::to_string(options.max_body_bytes)));
      return;
    }
    const std::string& method = req.method;
    switch (route.kind) {
      case Route::Kind::control:
        handle_control(req, res);
        return;
      case Route::Kind::version:
      case Route::Kind::api_versions:
      case Route::Kind::group_list:
      case Route::Kind::group:
      case Route::Kind::resource_list:
      case Route::Kind::openapi_root:
      case Route::Kind::openapi_group_version:
      case Route::Kind::openapi_v2:
        if (method != "GET") {
          reply(
              res, 405,
              status_json(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
          return;
        }
        handle_discovery(req, route, res);
        return;
      case Route::Kind::resource:
        handle_resource(req, res, route);
        return;
      default:
        reply(res, 404, status_json(404, "NotFound", "the server could not find the requested resource"));
        return;
    }
  }

  void handle_discovery(const httplib::Request& req, const Route& route, httplib::Response& res) {
    if (route.kind == Route::Kind::api_versions || route.kind == Route::Kind::group_list) {
      const std::string version = wants_aggregated(req.get_header_value("Accept"));
      if (!version.empty()) {
        res.status = 200;
        res.set_content(
            aggregated_discovery(route.kind == Route::Kind::api_versions, "apidiscovery.k8s.io/" + version).dump(),
            "application/json;g=apidiscovery.k8s.io;v=" + version + ";as=APIGroupDiscoveryList");
        return;
      }
    }
    switch (route.kind) {
      case Route::Kind::version:
        reply(res, 200, version_json());
        return;
      case Route::Kind::api_versions:
        reply(res, 200,
              {{"kind", "APIVersions"},
               {"versions", {"v1"}},
               {"serverAddressByClientCIDRs",
                {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", options.address + ":" + std::to_string(port)}}}}});
        return;
      case Route::Kind::group_list:
        reply(res, 200, group_list());
        return;
      case Route::Kind::group: {
        json g = group_json(route.group);
        if (g.is_null()) {
          reply(res, 404, status_json(404, "NotFound", "the server could not find the requested resource"));
          return;
        }
        g["kind"] = "APIGroup";
        g["apiVersion"] = "v1";
        reply(res, 200, g);
        return;
      }
      case Route::Kind::openapi_root:
        reply(res, 200, openapi_root());
        return;
      case Route::Kind::openapi_v2: {
        const json doc = openapi_v2_document(store.types(), options.server_version);
        // kubectl asks for ...spec.v2@v1.0+protobuf; the answer's type is
        // spelled with a dot, which Go's MIME parser accepts.
        res.status = 200;
        if (req.get_header_value("Accept").find("application/com.github.proto-openapi.spec.v2") != std::string::npos) {
          res.set_content(openapi_v2_protobuf(doc), "application/com.github.proto-openapi.spec.v2.v1.0+protobuf");
        } else {
          res.set_content(doc.dump(), k_json);
        }
        return;
      }
      case Route::Kind::openapi_group_version: {
        json doc = openapi_group_version(route.group, route.version);
        if (doc.is_null()) {
          reply(res, 404, status_json(404, "NotFound", "the server could not find the requested resource"));
          return;
        }
        reply(res, 200, doc);
        return;
      }
      case Route::Kind::resource_list: {
        json list = resource_list(route.group, route.version);
        if (list["resources"].empty() && !(route.group.empty() && route.version == "v1")) {
          reply(res, 404, status_json(404, "NotFound", "the server could not find the requested resource"));
          return;
        }
        reply(res, 200, list);
        return;
      }
      default:
        return;
    }
  }

  void handle_control(const httplib::Request& req, httplib::Response& res) {
    const std::string prefix = "/sandbox/v1/";
    const std::string path = req.path.size() > prefix.size() ? req.path.substr(prefix.size()) : std::string();
    if (path == "faults") {
      if (req.method == "GET") {
        reply(res, 200, faults.config().to_json());
        return;
      }
      if (req.method == "PUT") {
        auto body = parse_body(req.body, false);
        if (!body.ok()) {
          reply(res, 400, status_json(400, "BadRequest", body.error().message()));
          return;
        }
        auto config = FaultConfig::from_json(*body);
        if (!config.ok()) {
          reply(res, 400, status_json(400, "BadRequest", config.error().message()));
          return;
        }
        faults.set(*config);
        reply(res, 200, faults.config().to_json());
        return;
      }
      reply(res, 405, status_json(405, "MethodNotAllowed", "use GET or PUT on /sandbox/v1/faults"));
      return;
    }
    if (control) {
      auto [code, body] = control(req.method, path, req.body);
      reply(res, code, body);
      return;
    }
    reply(res, 404, status_json(404, "NotFound", "no such sandbox control endpoint: " + req.path));
  }

  void handle_resource(const httplib::Request& req, httplib::Response& res, const Route& route) {
    const auto type_opt = store.find_type(route.group, route.version, route.plural);
    if (!type_opt) {
      reply(res, 404, status_json(404, "NotFound", "the server could not find the requested resource"));
      return;
    }
    const ResourceType& type = *type_opt;
    const bool watch = truthy(req.get_param_value("watch"));
    const std::string verb = verb_of(req.method, route, watch);
    Subresource sub = Subresource::none;
    if (route.sub == "status" && type.status_subresource) {
      sub = Subresource::status;
    } else if (!route.sub.empty() && !(route.sub == "binding" && type.plural == "pods" && type.group.empty())) {
      reply(res, 404, status_json(404, "NotFound", "the server could not find the requested resource"));
      return;
    }

    // Faults apply to the API verbs, not to discovery or health.
    const auto decision = faults.decide(verb, route.sub.empty() ? route.plural : route.plural + "/" + route.sub);
    if (decision.delay.count() > 0) {
      std::this_thread::sleep_for(decision.delay);
    }
    if (decision.drop) {
      res.set_content_provider(
          1, "application/json", [](std::size_t, std::size_t, httplib::DataSink&) { return false; }, [](bool) {});
      return;
    }
    if (decision.code != 0) {
      Error e(ErrorCode::api, decision.code == 409 ? "Operation cannot be fulfilled on " + type.qualified_plural() +
                                                         " \"" + route.name + "\": injected conflict"
                              : decision.code == 429 ? "Too many requests, please try again later (injected)"
                              : decision.code == 503 ? "The server is currently unable to handle the request (injected)"
                                                     : "Internal error occurred: injected fault");
      e.with_http(decision.code, reason_for(decision.code));
      if (decision.retry_after_seconds > 0) {
        e.with_retry_after(decision.retry_after_seconds);
      }
      reply_error(res, e, route, route.name);
      return;
    }

    if (type.namespaced && !route.ns_in_path && (req.method == "POST" || !route.name.empty())) {
      reply(res, route.name.empty() ? 405 : 404,
            route.name.empty() ? status_json(405, "MethodNotAllowed",
                                             "the server does not allow this method on the requested resource")
                               : status_json(404, "NotFound", "the server could not find the requested resource"));
      return;
    }
    const std::string& m = req.method;
    if (m == "GET") {
      if (route.name.empty()) {
        if (watch) {
          serve_watch(req, res, route, type);
        } else {
          serve_list(req, res, route, type);
        }
      } else {
        serve_get(req, res, route, type);
      }
    } else if (m == "POST" && route.name.empty()) {
      serve_create(req, res, route, type);
    } else if (m == "POST" && route.sub == "binding") {
      serve_binding(req, res, route, type);
    } else if (m == "PUT" && !route.name.empty()) {
      serve_update(req, res, route, type, sub);
    } else if (m == "PATCH" && !route.name.empty()) {
      serve_patch(req, res, route, type, sub);
    } else if (m == "DELETE" && route.sub.empty()) {
      serve_delete(req, res, route, type);
    } else {
      reply(res, 405,
            status_json(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
    }
  }

  ListOptions list_options(const httplib::Request& req, const ResourceType& type) const {
    ListOptions o;
    o.label_selector = req.get_param_value("labelSelector");
    o.field_selector = stored_field_selector(type, req.get_param_value("fieldSelector"));
    o.continue_token = req.get_param_value("continue");
    o.resource_version = req.get_param_value("resourceVersion");
    const std::string limit = req.get_param_value("limit");
    if (!limit.empty()) {
      o.limit = std::atoll(limit.c_str());
    }
    return o;
  }

  void serve_get(const httplib::Request& req, httplib::Response& res, const Route& route, const ResourceType& type) {
    auto obj = store.get(storage_of(type), route.ns, route.name);
    if (!obj.ok()) {
      reply_error(res, obj.error(), route, route.name);
      return;
    }
    const MediaWants wants = parse_accept(req.get_header_value("Accept"));
    if (wants.table) {
      json table = table_of(type, {&*obj}, parse_include_object(req.get_param_value("includeObject")));
      table["metadata"]["resourceVersion"] = (*obj)["metadata"].value("resourceVersion", "");
      reply(res, 200, table);
      return;
    }
    present(*obj, type);
    if (wants.partial_metadata) {
      reply(res, 200, partial_metadata(*obj));
      return;
    }
    reply(res, 200, *obj);
  }

  void serve_list(const httplib::Request& req, httplib::Response& res, const Route& route, const ResourceType& type) {
    auto list = store.list(storage_of(type), route.ns, list_options(req, type));
    if (!list.ok()) {
      reply_error(res, list.error(), route, "");
      return;
    }
    const MediaWants wants = parse_accept(req.get_header_value("Accept"));
    if (wants.table) {
      std::vector<const json*> objects;
      for (const json& item : (*list)["items"]) {
        objects.push_back(&item);
      }
      json table = table_of(type, objects, parse_include_object(req.get_param_value("includeObject")));
      table["metadata"] = (*list)["metadata"];
      reply(res, 200, table);
      return;
    }
    for (json& item : (*list)["items"]) {
      present(item, type);
    }
    (*list)["apiVersion"] = type.api_version();
    if (wants.partial_metadata) {
      json items = json::array();
      for (const json& item : (*list)["items"]) {
        items.push_back(partial_metadata(item));
      }
      reply(res, 200,
            {{"kind", "PartialObjectMetadataList"},
             {"apiVersion", "meta.k8s.io/v1"},
             {"metadata", (*list)["metadata"]},
             {"items", items}});
      return;
    }
    reply(res, 200, *list);
  }

  void serve_watch(const httplib::Request& req, httplib::Response& res, const Route& route, const ResourceType& type) {
    const MediaWants wants = parse_accept(req.get_header_value("Accept"));
    const IncludeObject include = parse_include_object(req.get_param_value("includeObject"));
    const bool bookmarks = truthy(req.get_param_value("allowWatchBookmarks"));
    const std::string timeout_text = req.get_param_value("timeoutSeconds");
    const auto start = std::chrono::steady_clock::now();
    std::optional<std::chrono::steady_clock::time_point> deadline;
    if (!timeout_text.empty()) {
      deadline = start + std::chrono::seconds(std::atoll(timeout_text.c_str()));
    }
    const FaultConfig fault_config = faults.config();
    if (fault_config.watch_cut_after.count() > 0) {
      const auto cut = start + fault_config.watch_cut_after;
      deadline = deadline ? std::min(*deadline, cut) : cut;
    }
    std::shared_ptr<Watch> watch;
    std::optional<Error> gone;
    if (faults.watch_gone()) {
      gone =
          Error(ErrorCode::api, "too old resource version: " + req.get_param_value("resourceVersion") + " (injected)")
              .with_http(410, std::string(model::k_reason_expired));
    } else {
      auto w = store.watch(storage_of(type), route.ns, list_options(req, type));
      if (!w.ok()) {
        if (w.error().http_status() != 410) {
          reply_error(res, w.error(), route, "");
          return;
        }
        gone = w.error();
      } else {
        watch = *w;
      }
    }
    res.status = 200;
    if (gone) {
      // A watch that cannot start answers 200 with one ERROR event, as the real server does.
      const json event = {{"type", "ERROR"},
                          {"object", status_json(410, std::string(model::k_reason_expired), gone->message())}};
      res.set_content(event.dump() + "\n", k_json);
      return;
    }
    struct State {
      std::shared_ptr<Watch> watch;
      int sent = 0;
      bool first = true;
      std::chrono::steady_clock::time_point next_bookmark;
    };
    auto state = std::make_shared<State>();
    state->watch = watch;
    state->next_bookmark = start + options.bookmark_interval;
    const int cut_events = fault_config.watch_cut_after_events;
    // "stream=watch" also keeps httplib from gzip-compressing the stream,
    // which would hold events back in the compressor.
    res.set_chunked_content_provider(
        "application/json;stream=watch",
        [this, state, deadline, cut_events, bookmarks, include, wants, type](std::size_t, httplib::DataSink& sink) {
          const auto now = std::chrono::steady_clock::now();
          if (stopping || (deadline && now >= *deadline) || state->watch->closed()) {
            if (deadline && now >= *deadline && faults.config().watch_cut_after.count() > 0) {
              faults.count("watch-cut");
            }
            sink.done();
            return true;
          }
          if (cut_events > 0 && state->sent >= cut_events) {
            faults.count("watch-cut");
            sink.done();
            return true;
          }
          auto event = state->watch->next(std::chrono::milliseconds(200));
          if (event) {
            // {"object":...,"type":...} as a json object would print it (keys sorted).
            const auto frame = [&](const json& object) {
              return "{\"object\":" + object.dump() + ",\"type\":" + json(event->type).dump() + "}\n";
            };
            std::string line;
            if (!wants.table && presented(*event->object, type)) {
              line = frame(*event->object);  // stored as served: no copy
            } else {
              json object = *event->object;
              if (wants.table) {
                json table = table_of(type, {&object}, include, state->first);
                table["metadata"]["resourceVersion"] = object["metadata"].value("resourceVersion", "");
                object = std::move(table);
                state->first = false;
              } else {
                present(object, type);
              }
              line = frame(object);
            }
            ++state->sent;
            return sink.write(line.data(), line.size());
          }
          if (bookmarks && now >= state->next_bookmark) {
            state->next_bookmark = now + options.bookmark_interval;
            const std::uint64_t rv = state->watch->progress();
            if (rv > 0) {
              const json bookmark = {{"type", "BOOKMARK"},
                                     {"object",
                                      {{"kind", type.kind},
                                       {"apiVersion", type.api_version()},
                                       {"metadata", {{"resourceVersion", std::to_string(rv)}}}}}};
              const std::string line = bookmark.dump() + "\n";
              return sink.write(line.data(), line.size());
            }
          }
          return sink.is_writable();
        },
        [state](bool) { state->watch->close(); });
  }

  void serve_create(const httplib::Request& req, httplib::Response& res, const Route& route, const ResourceType& type) {
    auto body = parse_request_body(req);
    if (!body.ok()) {
      reply_error(res, body.error(), route, "");
      return;
    }
    const std::string name =
        body->is_object() ? body->value("metadata", json::object()).value("name", std::string()) : std::string();
    if (!check_fields(req, res, type, *body)) {
      return;
    }
    WriteOptions o;
    o.dry_run = req.get_param_value("dryRun") == "All";
    o.field_manager = field_manager(req);
    if (!req.get_param_value("dryRun").empty() && !o.dry_run) {
      reply(res, 400, status_json(400, "BadRequest", "dryRun must be \"All\""));
      return;
    }
    if (!type.field_renames.empty() && type.admit) {
      // A view's own rules, in its field names, before it is stored.
      json checked = *body;
      if (auto causes = type.admit(checked); !causes.empty()) {
        reply_error(res,
                    Error(ErrorCode::invalid, type.kind + "." + type.group + " \"" + name + "\" is invalid")
                        .with_http(422, "Invalid")
                        .with_causes(std::move(causes)),
                    route, name);
        return;
      }
    }
    auto created = store.create(storage_of(type), route.ns, to_stored(type, std::move(*body)), o);
    if (!created.ok()) {
      reply_error(res, created.error(), route, name);
      return;
    }
    present(*created, type);
    reply(res, 201, *created);
  }

  void serve_binding(const httplib::Request& req, httplib::Response& res, const Route& route,
                     const ResourceType& type) {
    auto body = parse_request_body(req);
    if (!body.ok()) {
      reply_error(res, body.error(), route, route.name);
      return;
    }
    const std::string node = body->value("target", json::object()).value("name", "");
    if (node.empty()) {
      reply(res, 422,
            status_json(422, "Invalid", "Binding \"" + route.name + "\" is invalid: target.name: Required value"));
      return;
    }
    std::string assigned;
    auto bound = store.mutate(type, route.ns, route.name, Subresource::none, field_manager(req), [&](json& pod) {
      assigned = pod["spec"].value("nodeName", "");
      if (!assigned.empty()) {
        return false;
      }
      pod["spec"]["nodeName"] = node;
      return true;
    });
    if (!bound.ok()) {
      reply_error(res, bound.error(), route, route.name);
      return;
    }
    if (!assigned.empty()) {
      reply(res, 409,
            status_json(409, "Conflict",
                        "Operation cannot be fulfilled on pods/binding \"" + route.name + "\": pod " + route.name +
                            " is already assigned to node \"" + assigned + "\""));
      return;
    }
    reply(res, 201,
          json{{"kind", "Status"},
               {"apiVersion", "v1"},
               {"metadata", json::object()},
               {"status", "Success"},
               {"code", 201}});
  }

  void serve_update(const httplib::Request& req, httplib::Response& res, const Route& route, const ResourceType& type,
                    Subresource sub) {
    auto body = parse_request_body(req);
    if (!body.ok()) {
      reply_error(res, body.error(), route, route.name);
      return;
    }
    if (!check_fields(req, res, type, *body)) {
      return;
    }
    WriteOptions o;
    o.dry_run = req.get_param_value("dryRun") == "All";
    o.field_manager = field_manager(req);
    auto updated = store.update(storage_of(type), route.ns, route.name, to_stored(type, std::move(*body)), sub, o);
    if (!updated.ok()) {
      reply_error(res, updated.error(), route, route.name);
      return;
    }
    present(*updated, type);
    reply(res, 200, *updated);
  }

  void serve_patch(const httplib::Request& req, httplib::Response& res, const Route& route, const ResourceType& type,
                   Subresource sub) {
    auto patch_type = patch_type_from_content_type(req.get_header_value("Content-Type"));
    if (!patch_type.ok()) {
      reply_error(res, patch_type.error(), route, route.name);
      return;
    }
    auto body = parse_body(req.body, *patch_type == PatchType::apply);
    if (!body.ok()) {
      reply_error(res, body.error(), route, route.name);
      return;
    }
    if (*patch_type != PatchType::json_patch && !check_fields(req, res, type, *body)) {
      return;
    }
    PatchOptions o;
    o.dry_run = req.get_param_value("dryRun") == "All";
    o.field_manager = *patch_type == PatchType::apply ? req.get_param_value("fieldManager") : field_manager(req);
    o.force = truthy(req.get_param_value("force"));
    if (o.force && *patch_type != PatchType::apply) {
      reply(res, 400, status_json(400, "BadRequest", "force may only be used with apply patches"));
      return;
    }
    const ResourceType st = storage_of(type);
    const bool existed = store.get(st, route.ns, route.name).ok();
    auto patched = store.patch(st, route.ns, route.name, *patch_type, to_stored(type, *body), sub, o);
    if (!patched.ok()) {
      reply_error(res, patched.error(), route, route.name);
      return;
    }
    present(*patched, type);
    reply(res, existed ? 200 : 201, *patched);
  }

  void serve_delete(const httplib::Request& req, httplib::Response& res, const Route& route, const ResourceType& type) {
    DeleteOptions o;
    if (!req.body.empty()) {
      auto body = parse_body(req.body, false);
      if (!body.ok()) {
        reply_error(res, body.error(), route, route.name);
        return;
      }
      if (body->is_object()) {
        o.propagation_policy = body->value("propagationPolicy", "");
        const json pre = body->value("preconditions", json::object());
        if (pre.is_object()) {
          o.precondition_uid = pre.value("uid", "");
          o.precondition_resource_version = pre.value("resourceVersion", "");
        }
        const json dry = body->value("dryRun", json::array());
        o.dry_run = dry.is_array() && std::find(dry.begin(), dry.end(), "All") != dry.end();
      }
    }
    if (!req.get_param_value("propagationPolicy").empty()) {
      o.propagation_policy = req.get_param_value("propagationPolicy");
    }
    if (req.get_param_value("dryRun") == "All") {
      o.dry_run = true;
    }
    if (route.name.empty()) {
      // deletecollection
      auto list = store.list(storage_of(type), route.ns, list_options(req, type));
      if (!list.ok()) {
        reply_error(res, list.error(), route, "");
        return;
      }
      json deleted = json::array();
      for (const json& item : (*list)["items"]) {
        auto d = store.remove(storage_of(type), item["metadata"].value("namespace", ""),
                              item["metadata"].value("name", ""), o);
        if (d.ok()) {
          present(*d, type);
          deleted.push_back(*d);
        }
      }
      (*list)["items"] = deleted;
      reply(res, 200, *list);
      return;
    }
    auto removed = store.remove(storage_of(type), route.ns, route.name, o);
    if (!removed.ok()) {
      reply_error(res, removed.error(), route, route.name);
      return;
    }
    present(*removed, type);
    const bool pending = removed->is_object() && removed->contains("metadata") &&
                         (*removed)["metadata"].contains("deletionTimestamp") &&
                         store.get(storage_of(type), route.ns, route.name).ok();
    reply(res, pending ? 202 : 200, *removed);
  }
};

ApiServer::ApiServer(Store& store, FaultInjector& faults, ServerOptions options)
    : m_impl(std::make_unique<Impl>(store, faults, std::move(options))) {}

ApiServer::~ApiServer() {
  stop();
}

Status ApiServer::start(const TlsMaterial* tls) {
  Impl& impl = *m_impl;
  if (impl.options.token.empty()) {
    return Error(ErrorCode::usage, "the sandbox API server needs a bearer token");
  }
  if (impl.options.tls) {
    if (tls == nullptr) {
      return Error(ErrorCode::usage, "TLS serving needs a certificate and key");
    }
    BIO* cert_bio = BIO_new_mem_buf(tls->cert_pem.data(), static_cast<int>(tls->cert_pem.size()));
    BIO* key_bio = BIO_new_mem_buf(tls->key_pem.data(), static_cast<int>(tls->key_pem.size()));
    X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
    EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
    BIO_free(cert_bio);
    BIO_free(key_bio);
    if (cert == nullptr || key == nullptr) {
      X509_free(cert);
      EVP_PKEY_free(key);
      return Error(ErrorCode::internal, "the sandbox serving certificate or key could not be loaded");
    }
    // SSLServer takes its own references to the certificate and key.
    impl.server = std::make_unique<httplib::SSLServer>(cert, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    if (!static_cast<httplib::SSLServer&>(*impl.server).is_valid()) {
      return Error(ErrorCode::internal, "the TLS server could not be set up");
    }
  } else {
    impl.server = std::make_unique<httplib::Server>();
  }
  httplib::Server& svr = *impl.server;
  const std::size_t threads = impl.options.threads;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_keep_alive_max_count(100000);
  svr.set_keep_alive_timeout(30);
  svr.set_read_timeout(30, 0);
  svr.set_write_timeout(30, 0);
  svr.set_tcp_nodelay(true);
  svr.set_payload_max_length(impl.options.max_body_bytes);
  const auto handler = [&impl](const httplib::Request& req, httplib::Response& res) {
    impl.handle(req, res);
    impl.count(res.status);
    impl.encode_body(req, res);
  };
  svr.Get(".*", handler);
  svr.Post(".*", handler);
  svr.Put(".*", handler);
  svr.Patch(".*", handler);
  svr.Delete(".*", handler);
  const std::size_t limit = impl.options.max_body_bytes;
  svr.set_error_handler([&impl, limit](const httplib::Request& req, httplib::Response& res) {
    // A body the handler set, plain or already handed over by encode_body.
    if (!res.body.empty() || res.content_length_ > 0 || res.content_provider_) {
      return;
    }
    const int code = res.status;
    std::string message = "the server could not handle the request";
    if (code == 413) {
      message = "Request entity too large: limit is " + std::to_string(limit);
    } else if (code == 404) {
      message = "the server could not find the requested resource";
    } else if (code == 400) {
      message = "the request could not be parsed";
    }
    res.set_content(status_json(code, reason_for(code), message).dump(), k_json);
    impl.count(code);
    impl.encode_body(req, res);
  });
  svr.set_exception_handler([&impl](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    res.status = 500;
    res.set_content(status_json(500, "InternalError", "Internal error occurred: " + what).dump(), k_json);
    impl.encode_body(req, res);
  });
  if (impl.options.port == 0) {
    impl.port = svr.bind_to_any_port(impl.options.address);
  } else {
    impl.port = svr.bind_to_port(impl.options.address, impl.options.port) ? impl.options.port : -1;
  }
  if (impl.port <= 0) {
    return Error(ErrorCode::io, "cannot listen on " + impl.options.address + ":" + std::to_string(impl.options.port) +
                                    " (address in use or not local?)");
  }
  impl.thread = std::thread([&svr] { svr.listen_after_bind(); });
  return {};
}

void ApiServer::stop() {
  if (!m_impl || !m_impl->server) {
    return;
  }
  m_impl->stopping = true;
  m_impl->store.close_watches();
  m_impl->server->stop();
  if (m_impl->thread.joinable()) {
    m_impl->thread.join();
  }
  m_impl->server.reset();
}

int ApiServer::port() const {
  return m_impl->port;
}

std::string ApiServer::url() const {
  const std::string host = m_impl->options.address.find(':') != std::string::npos ? "[" + m_impl->options.address + "]"
                                                                                  : m_impl->options.address;
  return std::string(m_impl->options.tls ? "https://" : "http://") + host + ":" + std::to_string(m_impl->port);
}

void ApiServer::set_control_handler(ControlHandler handler) {
  m_impl->control = std::move(handler);
}

json ApiServer::request_counts() const {
  std::lock_guard lock(m_impl->counts_mutex);
  json out = json::object();
  for (const auto& [code, n] : m_impl->counts) {
    out[std::to_string(code)] = n;
  }
  return out;
}

std::string make_kubeconfig(const std::string& name, const std::string& server_url, const std::string& ca_pem,
                            const std::string& token, const std::string& ns) {
  std::string out;
  out += "apiVersion: v1\nkind: Config\nclusters:\n- name: " + name + "\n  cluster:\n    server: " + server_url + "\n";
  if (!ca_pem.empty()) {
    out += "    certificate-authority-data: " + base64(ca_pem) + "\n";
  }
  out += "contexts:\n- name: " + name + "\n  context:\n    cluster: " + name + "\n    user: " + name +
         "\n    namespace: " + ns + "\ncurrent-context: " + name + "\nusers:\n- name: " + name +
         "\n  user:\n    token: " + token + "\npreferences: {}\n";
  return out;
}

std::string generate_token() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // The OS entropy source failing is not recoverable in a useful way; fall
    // back to the C++ one rather than serving without authentication.
    std::random_device rd;
    for (unsigned char& b : bytes) {
      b = static_cast<unsigned char>(rd());
    }
  }
  static const char k_hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out.push_back(k_hex[b >> 4]);
    out.push_back(k_hex[b & 0xF]);
  }
  return out;
}

}  // namespace gpuorch::sandbox
