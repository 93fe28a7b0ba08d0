#include <gpuorch/kube/client.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <gpuorch/kube/rate_limiter.hpp>
#include <gpuorch/kube/watch.hpp>

#include "unit/kube/fakes.hpp"
#include "unit/kube/test_server.hpp"

using gpuorch::ErrorCode;
using namespace gpuorch::kube;
using namespace gpuorch::kube::testing;
using nlohmann::json;

namespace {

struct Harness {
  TestServer server;
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  std::shared_ptr<FakeFileSystem> fs = std::make_shared<FakeFileSystem>();
  RestConfig config;
  ClientOptions options;

  Harness() {
    config.context_name = "dev";
    config.user_name = "alice";
  }
  void start() {
    server.start();
    config.server = server.url();
  }
  /// A client of the harness's server; over `transport` when given (e.g. a
  /// CurlTransport whose connections a test counts).
  std::shared_ptr<Client> client(std::shared_ptr<HttpTransport> transport = nullptr) {
    ClientDeps deps;
    deps.transport = std::move(transport);
    deps.clock = clock;
    deps.random = std::make_shared<FixedRandom>(0.5);
    deps.fs = fs;
    return Client::create(config, options, Environment({}), deps).value_or_throw();
  }
};

std::string status_body(int code, const std::string& reason, const std::string& message, json details = nullptr) {
  json status = {{"kind", "Status"},   {"apiVersion", "v1"}, {"status", "Failure"},
                 {"message", message}, {"reason", reason},   {"code", code}};
  if (!details.is_null()) {
    status["details"] = details;
  }
  return status.dump();
}

}  // namespace

TEST_CASE("resource_path builds core, group, namespaced, cluster-scoped and subresource paths") {
  CHECK(resource_path(resources::pods(), "ml", "p-1") == "/api/v1/namespaces/ml/pods/p-1");
  CHECK(resource_path(resources::pods(), "") == "/api/v1/pods");
  CHECK(resource_path(resources::nodes(), "ignored", "n1") == "/api/v1/nodes/n1");
  CHECK(resource_path(resources::gpu_workloads(), "ml", "llama", "status") ==
        "/apis/gpuorch.io/v1alpha1/namespaces/ml/gpuworkloads/llama/status");
  CHECK(resource_path(resources::jobs(), "a b") == "/apis/batch/v1/namespaces/a%20b/jobs");
  CHECK(resources::jobs().group_version() == "batch/v1");
  CHECK(resources::gpu_workloads().qualified_resource() == "gpuworkloads.gpuorch.io");
}

TEST_CASE("requests carry verbs, paths, queries, content types and credentials") {
  Harness h;
  h.config.bearer_token = "s3cret";
  h.config.impersonate_user = "bob";
  h.config.impersonate_groups = {"ops", "dev"};
  std::mutex mutex;
  std::vector<std::string> seen;
  auto record = [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mutex);
    std::string params;
    for (const auto& [k, v] : req.params) {
      params += k + "=" + v + ";";
    }
    seen.push_back(req.method + " " + req.path + " " + params + " " + req.get_header_value("Content-Type") + " " +
                   req.body);
    CHECK(req.get_header_value("Authorization") == "Bearer s3cret");
    CHECK(req.get_header_value("Impersonate-User") == "bob");
    CHECK(req.get_header_value_count("Impersonate-Group") == 2);
    res.set_content(R"({"kind":"GPUWorkload","metadata":{"name":"w"}})", "application/json");
  };
  const auto gvr = resources::gpu_workloads();
  const std::string base = "/apis/gpuorch.io/v1alpha1/namespaces/ml/gpuworkloads";
  h.server.http().Get(base + "/w", record);
  h.server.http().Post(base, record);
  h.server.http().Put(base + "/w/status", record);
  h.server.http().Patch(base + "/w", record);
  h.server.http().Delete(base + "/w", record);
  h.start();
  auto client = h.client();

  CHECK(client->get(gvr, "ml", "w").value_or_throw()["metadata"]["name"] == "w");
  WriteOptions dry;
  dry.dry_run = true;
  dry.field_manager = "gpuorch";
  (void)client->create(gvr, "ml", json{{"metadata", {{"name", "w"}}}}, dry).value_or_throw();
  WriteOptions status;
  status.subresource = "status";
  (void)client->update(gvr, "ml", json{{"metadata", {{"name", "w"}, {"resourceVersion", "7"}}}}, status)
      .value_or_throw();
  (void)client->patch(gvr, "ml", "w", PatchType::merge, R"({"spec":{"priority":5}})").value_or_throw();
  (void)client->patch(gvr, "ml", "w", PatchType::json, R"([{"op":"remove","path":"/metadata/finalizers/0"}])")
      .value_or_throw();
  WriteOptions apply;
  apply.field_manager = "gpuorch-reconciler";
  apply.force = true;
  (void)client->apply(gvr, "ml", json{{"apiVersion", "gpuorch.io/v1alpha1"}, {"metadata", {{"name", "w"}}}}, apply)
      .value_or_throw();
  DeleteOptions del;
  del.propagation_policy = "Background";
  del.precondition_uid = "u-1";
  (void)client->remove(gvr, "ml", "w", del).value_or_throw();

  REQUIRE(seen.size() == 7);
  CHECK(seen[0] == "GET " + base + "/w   ");
  CHECK(seen[1] ==
        "POST " + base + " dryRun=All;fieldManager=gpuorch; application/json {\"metadata\":{\"name\":\"w\"}}");
  CHECK(seen[2] ==
        "PUT " + base + "/w/status  application/json {\"metadata\":{\"name\":\"w\",\"resourceVersion\":\"7\"}}");
  CHECK(seen[3] == "PATCH " + base + "/w  application/merge-patch+json {\"spec\":{\"priority\":5}}");
  CHECK(seen[4] ==
        "PATCH " + base + "/w  application/json-patch+json [{\"op\":\"remove\",\"path\":\"/metadata/finalizers/0\"}]");
  CHECK(seen[5] == "PATCH " + base +
                       "/w fieldManager=gpuorch-reconciler;force=true; application/apply-patch+yaml "
                       "{\"apiVersion\":\"gpuorch.io/v1alpha1\",\"metadata\":{\"name\":\"w\"}}");
  CHECK(seen[6] == "DELETE " + base +
                       "/w  application/json "
                       "{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\",\"preconditions\":{\"uid\":\"u-1\"},"
                       "\"propagationPolicy\":\"Background\"}");
}

TEST_CASE("list_all follows continue tokens") {
  Harness h;
  std::atomic<int> calls{0};
  h.server.http().Get("/api/v1/namespaces/ml/pods", [&](const httplib::Request& req, httplib::Response& res) {
    ++calls;
    CHECK(req.get_param_value("limit") == "2");
    CHECK(req.get_param_value("labelSelector") == "app=x");
    const auto token = req.get_param_value("continue");
    if (token.empty()) {
      res.set_content(
          R"({"kind":"PodList","metadata":{"resourceVersion":"10","continue":"p2"},"items":[{"n":1},{"n":2}]})",
          "application/json");
    } else {
      CHECK(token == "p2");
      res.set_content(R"({"kind":"PodList","metadata":{"resourceVersion":"10"},"items":[{"n":3}]})",
                      "application/json");
    }
  });
  h.start();
  ListOptions options;
  options.limit = 2;
  options.label_selector = "app=x";
  const auto list = h.client()->list_all(resources::pods(), "ml", options).value_or_throw();
  CHECK(calls == 2);
  CHECK(list["items"].size() == 3);
  CHECK(list["metadata"]["resourceVersion"] == "10");
  CHECK(!list["metadata"].contains("continue"));
}

TEST_CASE("metav1.Status answers become typed errors") {
  Harness h;
  h.server.http().Get(R"(/apis/gpuorch.io/v1alpha1/namespaces/ml/gpuworkloads/(\w+))", [](const httplib::Request& req,
                                                                                          httplib::Response& res) {
    const auto name = req.matches[1].str();
    if (name == "missing") {
      res.status = 404;
      res.set_content(status_body(404, "NotFound", "gpuworkloads.gpuorch.io \"missing\" not found"),
                      "application/json");
    } else if (name == "conflict") {
      res.status = 409;
      res.set_content(status_body(409, "Conflict", "the object has been modified"), "application/json");
    } else if (name == "invalid") {
      res.status = 422;
      res.set_content(status_body(422, "Invalid", "GPUWorkload.gpuorch.io \"invalid\" is invalid",
                                  json{{"causes",
                                        {{{"reason", "FieldValueInvalid"},
                                          {"message", "Invalid value: 0: must be >= 1"},
                                          {"field", "spec.gpuCount"}}}}}),
                      "application/json");
    } else if (name == "unauthorized") {
      res.status = 401;
      res.set_content(status_body(401, "Unauthorized", "Unauthorized"), "application/json");
    } else if (name == "forbidden") {
      res.status = 403;
      res.set_content(status_body(403, "Forbidden",
                                  "gpuworkloads.gpuorch.io \"forbidden\" is forbidden: User "
                                  "\"alice\" cannot get resource"),
                      "application/json");
    } else {
      res.status = 400;
      res.set_content("plain text failure", "text/plain");
    }
  });
  h.start();
  auto client = h.client();
  const auto gvr = resources::gpu_workloads();

  auto missing = client->get(gvr, "ml", "missing");
  CHECK(missing.error().code() == ErrorCode::not_found);
  CHECK(missing.error().http_status() == 404);
  CHECK(missing.error().reason() == "NotFound");
  CHECK(missing.error().message() == "gpuworkloads.gpuorch.io \"missing\" not found");

  CHECK(client->get(gvr, "ml", "conflict").error().code() == ErrorCode::conflict);

  auto invalid = client->get(gvr, "ml", "invalid");
  CHECK(invalid.error().code() == ErrorCode::invalid);
  REQUIRE(invalid.error().causes().size() == 1);
  CHECK(invalid.error().causes()[0].to_string() == "spec.gpuCount: Invalid value: 0: must be >= 1");
  CHECK(invalid.error().causes()[0].reason == "FieldValueInvalid");

  auto unauthorized = client->get(gvr, "ml", "unauthorized");
  CHECK(unauthorized.error().code() == ErrorCode::auth);
  CHECK(unauthorized.error().message() ==
        "You must be logged in to the server: it did not accept the credentials of user \"alice\" in context \"dev\" "
        "(Unauthorized)");

  auto forbidden = client->get(gvr, "ml", "forbidden");
  CHECK(forbidden.error().code() == ErrorCode::auth);
  CHECK(forbidden.error().reason() == "Forbidden");
  CHECK(forbidden.error().message() ==
        "gpuworkloads.gpuorch.io \"forbidden\" is forbidden: User \"alice\" cannot get resource (authenticated as "
        "user \"alice\" in context \"dev\")");

  auto other = client->get(gvr, "ml", "other");
  CHECK(other.error().code() == ErrorCode::api);
  CHECK(other.error().reason() == "BadRequest");
  CHECK(other.error().message() == "plain text failure");
}

TEST_CASE("answers without a metav1.Status get the reason of their HTTP code") {
  const auto decode = [](int status, std::string_view verb) {
    HttpResponse response;
    response.status = status;
    response.body = "<html>proxy error</html>";
    return decode_api_error(response, verb, "https://k8s.example/apis/x");
  };
  CHECK(decode(410, "GET").reason() == "Gone");
  CHECK(decode(410, "GET").code() == ErrorCode::api);
  CHECK(decode(409, "POST").reason() == "AlreadyExists");
  CHECK(decode(409, "POST").code() == ErrorCode::conflict);
  CHECK(decode(409, "PUT").reason() == "Conflict");
  CHECK(decode(404, "GET").code() == ErrorCode::not_found);
  CHECK(decode(503, "GET").reason() == "ServiceUnavailable");
  CHECK(decode(418, "GET").reason().empty());
  // A server's own reason wins: kube-apiserver answers an expired watch with 410 Expired.
  HttpResponse expired;
  expired.status = 410;
  expired.body = json{{"kind", "Status"},    {"apiVersion", "v1"}, {"status", "Failure"},
                      {"reason", "Expired"}, {"code", 410},        {"message", "too old resource version: 1 (5)"}}
                     .dump();
  const auto error = decode_api_error(expired, "GET", "https://k8s.example/api/v1/pods?watch=1");
  CHECK(error.reason() == "Expired");
  CHECK(is_gone(error));
  CHECK(is_gone(decode(410, "GET")));
  CHECK(!is_gone(decode(409, "PUT")));
}

TEST_CASE("transient failures are retried with backoff only where safe") {
  Harness h;
  std::atomic<int> gets{0};
  std::atomic<int> posts{0};
  std::atomic<int> throttled{0};
  h.server.http().Get("/api/v1/nodes", [&](const httplib::Request&, httplib::Response& res) {
    if (++gets < 3) {
      res.status = 503;
      res.set_content(status_body(503, "ServiceUnavailable", "try later"), "application/json");
      return;
    }
    res.set_content(R"({"items":[]})", "application/json");
  });
  h.server.http().Post("/api/v1/namespaces/ml/pods", [&](const httplib::Request&, httplib::Response& res) {
    ++posts;
    res.status = 500;
    res.set_content(status_body(500, "InternalError", "boom"), "application/json");
  });
  h.server.http().Post("/api/v1/namespaces/ml/events", [&](const httplib::Request&, httplib::Response& res) {
    if (++throttled == 1) {
      res.status = 429;
      res.set_header("Retry-After", "3");
      res.set_content(status_body(429, "TooManyRequests", "slow down"), "application/json");
      return;
    }
    res.status = 201;
    res.set_content("{}", "application/json");
  });
  h.start();
  auto client = h.client();

  CHECK(client->list(resources::nodes(), "").ok());
  CHECK(gets == 3);
  // 200 ms and 400 ms base delays, jitter neutral at 0.5.
  CHECK(h.clock->sleeps() ==
        std::vector<std::chrono::milliseconds>{std::chrono::milliseconds(200), std::chrono::milliseconds(400)});

  auto post = client->create(resources::pods(), "ml", json::object());
  CHECK(posts == 1);  // a POST that reached the server is not repeated on 500
  CHECK(post.error().reason() == "InternalError");

  CHECK(client->create(resources::events(), "ml", json::object()).ok());
  CHECK(throttled == 2);
  CHECK(h.clock->sleeps().back() == std::chrono::milliseconds(3000));  // Retry-After honoured
}

/// Answers from a script, one entry per request, and records the methods asked.
class ScriptedTransport final : public HttpTransport {
 public:
  std::vector<gpuorch::Result<HttpResponse>> script;
  std::vector<std::string> methods;
  gpuorch::Result<HttpResponse> send(const HttpRequest& request) override {
    std::lock_guard lock(m_mutex);
    methods.push_back(request.method);
    if (script.empty()) {
      return gpuorch::Error(ErrorCode::internal, "script exhausted");
    }
    auto next = std::move(script.front());
    script.erase(script.begin());
    return next;
  }

 private:
  std::mutex m_mutex;
};

gpuorch::Error transport_failure(const char* reason) {
  return gpuorch::Error(ErrorCode::transport, std::string("failed: ") + reason).with_http(0, reason);
}

HttpResponse answer(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.headers = {{"Content-Type", "application/json"}};
  response.body = std::move(body);
  return response;
}

TEST_CASE("lost connections and timeouts are retried for reads only - backoff doubles up to its cap") {
  Harness h;
  h.config.server = "https://k:6443";
  auto transport = std::make_shared<ScriptedTransport>();
  ClientDeps deps;
  deps.transport = transport;
  deps.clock = h.clock;
  deps.random = std::make_shared<FixedRandom>(0.5);
  ClientOptions options;
  options.max_retries = 8;
  options.backoff_base = std::chrono::milliseconds(200);
  options.backoff_cap = std::chrono::milliseconds(1000);
  auto client = Client::create(h.config, options, Environment({}), deps).value_or_throw();

  // A GET whose connection is reset, then times out, then answers: retried.
  transport->script.emplace_back(transport_failure(transport_reason::k_connection_reset));
  transport->script.emplace_back(transport_failure(transport_reason::k_timeout));
  transport->script.emplace_back(answer(200, R"({"items":[]})"));
  CHECK(client->list(resources::nodes(), "").ok());
  CHECK(transport->methods == std::vector<std::string>{"GET", "GET", "GET"});
  CHECK(h.clock->sleeps() ==
        std::vector<std::chrono::milliseconds>{std::chrono::milliseconds(200), std::chrono::milliseconds(400)});

  // A POST whose connection broke may have been processed: not repeated.
  transport->methods.clear();
  transport->script.emplace_back(transport_failure(transport_reason::k_connection_reset));
  auto post = client->create(resources::pods(), "ml", json::object());
  REQUIRE(!post.ok());
  CHECK(post.error().code() == ErrorCode::transport);
  CHECK(transport->methods == std::vector<std::string>{"POST"});

  // A connection that could not even be opened sent nothing: any verb is retried.
  transport->methods.clear();
  transport->script.emplace_back(transport_failure(transport_reason::k_connect_failed));
  transport->script.emplace_back(answer(201, "{}"));
  CHECK(client->create(resources::pods(), "ml", json::object()).ok());
  CHECK(transport->methods == std::vector<std::string>{"POST", "POST"});

  // Many 503s in a row: the delay doubles, then stays at the cap.
  const auto sleeps_before = h.clock->sleeps().size();
  for (int i = 0; i < 6; ++i) {
    transport->script.emplace_back(answer(503, status_body(503, "ServiceUnavailable", "busy")));
  }
  transport->script.emplace_back(answer(200, R"({"items":[]})"));
  CHECK(client->list(resources::nodes(), "").ok());
  const auto sleeps = h.clock->sleeps();
  REQUIRE(sleeps.size() == sleeps_before + 6);
  CHECK(std::vector<std::chrono::milliseconds>(sleeps.begin() + static_cast<long>(sleeps_before), sleeps.end()) ==
        std::vector<std::chrono::milliseconds>{std::chrono::milliseconds(200), std::chrono::milliseconds(400),
                                               std::chrono::milliseconds(800), std::chrono::milliseconds(1000),
                                               std::chrono::milliseconds(1000), std::chrono::milliseconds(1000)});
}

TEST_CASE("retries stop after max_retries and return the last error") {
  Harness h;
  std::atomic<int> gets{0};
  h.server.http().Get("/api/v1/nodes", [&](const httplib::Request&, httplib::Response& res) {
    ++gets;
    res.status = 429;
    res.set_content(status_body(429, "TooManyRequests", "slow down", json{{"retryAfterSeconds", 1}}),
                    "application/json");
  });
  h.start();
  h.options.max_retries = 3;
  auto result = h.client()->list(resources::nodes(), "");
  CHECK(gets == 4);
  CHECK(result.error().reason() == "TooManyRequests");
  CHECK(result.error().retry_after_seconds() == 1);
}

TEST_CASE("server Warning headers are surfaced once each") {
  Harness h;
  h.server.http().Get("/api/v1/nodes", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Warning", "299 - \"v1alpha1 is deprecated\"");
    res.set_content("{}", "application/json");
  });
  h.start();
  auto client = h.client();
  std::vector<std::string> warnings;
  client->set_warning_handler([&](const std::string& text) { warnings.push_back(text); });
  (void)client->list(resources::nodes(), "").value_or_throw();
  (void)client->list(resources::nodes(), "").value_or_throw();
  CHECK(warnings == std::vector<std::string>{"v1alpha1 is deprecated"});
}

TEST_CASE("a rotated token file is re-read after a 401 and the request retried once") {
  Harness h;
  h.fs->add("/var/run/token", "old-token\n");
  h.config.bearer_token = "old-token";
  h.config.bearer_token_file = "/var/run/token";
  std::atomic<int> calls{0};
  h.server.http().Get("/api/v1/nodes", [&](const httplib::Request& req, httplib::Response& res) {
    ++calls;
    if (req.get_header_value("Authorization") != "Bearer new-token") {
      res.status = 401;
      res.set_content(status_body(401, "Unauthorized", "Unauthorized"), "application/json");
      return;
    }
    res.set_content("{}", "application/json");
  });
  h.start();
  auto client = h.client();
  CHECK(client->list(resources::nodes(), "").error().http_status() == 401);
  CHECK(calls == 1);  // the file did not change: no pointless retry
  h.fs->add("/var/run/token", "new-token\n");
  CHECK(client->list(resources::nodes(), "").ok());
  CHECK(calls == 3);
}

TEST_CASE("the token file is re-read periodically") {
  Harness h;
  h.fs->add("/t", "one");
  h.config.bearer_token = "one";
  h.config.bearer_token_file = "/t";
  std::mutex mutex;
  std::vector<std::string> tokens;
  h.server.http().Get("/api/v1/nodes", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mutex);
    tokens.push_back(req.get_header_value("Authorization"));
    res.set_content("{}", "application/json");
  });
  h.start();
  auto client = h.client();
  (void)client->list(resources::nodes(), "").value_or_throw();
  h.fs->add("/t", "two");
  (void)client->list(resources::nodes(), "").value_or_throw();
  h.clock->advance(std::chrono::seconds(61));
  (void)client->list(resources::nodes(), "").value_or_throw();
  CHECK(tokens == std::vector<std::string>{"Bearer one", "Bearer one", "Bearer two"});
}

TEST_CASE("basic auth") {
  Harness h;
  h.config.username = "admin";
  h.config.password = "pa:ss";
  std::string seen;
  h.server.http().Get("/version", [&](const httplib::Request& req, httplib::Response& res) {
    seen = req.get_header_value("Authorization");
    res.set_content("{}", "application/json");
  });
  h.start();
  Request request;
  request.path = "/version";
  CHECK(h.client()->send(request).ok());
  CHECK(seen == "Basic " + base64_encode("admin:pa:ss"));
}

TEST_CASE("verbose request logs redact credentials") {
  Harness h;
  h.config.bearer_token = "very-secret-token-123";
  h.config.impersonate_user = "bob";
  h.options.verbosity = 8;
  h.server.http().Get("/api/v1/nodes", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Set-Cookie", "session=cookie-secret-456");
    res.set_content(R"({"items":[]})", "application/json");
  });
  h.start();
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto logger = std::make_shared<spdlog::logger>("capture", sink);
  logger->set_level(spdlog::level::trace);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  (void)h.client()->list(resources::nodes(), "").value_or_throw();
  spdlog::set_default_logger(previous);
  const auto text = captured.str();
  CHECK(text.find("very-secret-token-123") == std::string::npos);
  CHECK(text.find("cookie-secret-456") == std::string::npos);
  CHECK(text.find("Authorization: Bearer <masked>") != std::string::npos);
  CHECK(text.find("Impersonate-User: bob") != std::string::npos);
  CHECK(text.find("GET " + h.server.url() + "/api/v1/nodes 200 OK in ") != std::string::npos);
}

TEST_CASE("redact helpers") {
  CHECK(redact_header("Authorization", "Bearer abc") == "Bearer <masked>");
  CHECK(redact_header("X-Auth-Token", "abc") == "<masked>");
  CHECK(redact_header("Accept", "application/json") == "application/json");
  CHECK(redact_url("http://user:pw@proxy:3128/x") == "http://<masked>@proxy:3128/x");
  CHECK(redact_url("https://host/api?x=@") == "https://host/api?x=@");
}

TEST_CASE("an unreachable server fails fast, naming the server") {
  Harness h;
  // Bind and close to get a port nobody listens on.
  h.server.start();
  h.config.server = h.server.url();
  h.server.stop();
  auto result = h.client()->list(resources::nodes(), "");
  REQUIRE(!result.ok());
  CHECK(result.error().code() == ErrorCode::transport);
  CHECK(result.error().message().rfind("cannot reach the Kubernetes API server at " + h.config.server + " (GET " +
                                           h.config.server + "/api/v1/nodes): connection refused",
                                       0) == 0);
  CHECK(h.clock->sleeps().size() == 2);  // max_connect_retries
}

TEST_CASE("--request-timeout bounds a request that gets no answer") {
  Harness h;
  h.server.http().Get("/api/v1/nodes", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    res.set_content("{}", "application/json");
  });
  h.start();
  h.config.timeout = std::chrono::milliseconds(200);
  const auto start = std::chrono::steady_clock::now();
  auto result = h.client()->list(resources::nodes(), "");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(!result.ok());
  CHECK(result.error().code() == ErrorCode::transport);
  CHECK(result.error().message() == "GET " + h.config.server +
                                        "/api/v1/nodes: no answer within the request timeout of 200ms "
                                        "(--request-timeout)");
  CHECK(elapsed < std::chrono::milliseconds(750));
}

TEST_CASE("connections are reused across requests") {
  Harness h;
  h.server.http().set_keep_alive_max_count(1000);
  h.server.http().Get("/api/v1/nodes", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  h.start();
  auto transport = std::make_shared<CurlTransport>(TransportConfig{}, Environment({}));
  auto client = h.client(transport);
  for (int i = 0; i < 20; ++i) {
    REQUIRE(client->list(resources::nodes(), "").ok());
  }
  CHECK(transport->connections_opened() == 1);
}

TEST_CASE("connections are reused while long-lived watch streams hold others") {
  Harness h;
  h.server.http().set_keep_alive_max_count(1000);
  std::atomic<int> watching{0};
  std::atomic<bool> finished{false};
  h.server.http().Get("/api/v1/nodes", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  h.server.http().Get("/api/v1/pods", [&](const httplib::Request&, httplib::Response& res) {
    ++watching;
    res.set_chunked_content_provider("application/json", [&](size_t, httplib::DataSink& sink) {
      while (!finished && sink.is_writable()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      sink.done();
      return true;
    });
  });
  h.start();
  auto transport = std::make_shared<CurlTransport>(TransportConfig{}, Environment({}));
  auto client = h.client(transport);
  // Five streams open (a controller has four), each on its own connection.
  constexpr int k_streams = 5;
  std::vector<std::thread> streams;
  for (int i = 0; i < k_streams; ++i) {
    streams.emplace_back([&] { (void)watch(*client, resources::pods(), "", {}, [](WatchEvent&) { return true; }); });
  }
  for (int i = 0; i < 1000 && watching < k_streams; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(watching == k_streams);
  for (int i = 0; i < 20; ++i) {
    REQUIRE(client->list(resources::nodes(), "").ok());
  }
  finished = true;
  for (auto& t : streams) {
    t.join();
  }
  // One connection per stream and one for all 20 requests.
  CHECK(transport->connections_opened() == k_streams + 1);
}

TEST_CASE("RateLimiter allows a burst, then spaces requests by 1/qps") {
  FakeClock clock;
  RateLimiter limiter(10, 2, clock);
  CHECK(limiter.acquire());
  CHECK(limiter.acquire());
  CHECK(clock.sleeps().empty());
  CHECK(limiter.acquire());
  REQUIRE(clock.sleeps().size() == 1);
  CHECK(clock.sleeps()[0] == std::chrono::milliseconds(100));
  clock.advance(std::chrono::seconds(1));
  CHECK(limiter.next_wait().count() == 0);
}

TEST_CASE("proxy_from_environment follows Go's rules") {
  Environment env({{"HTTPS_PROXY", "proxy.corp:3128"}, {"NO_PROXY", ".internal,10.0.0.1,svc:8443"}});
  CHECK(proxy_from_environment(env, "https://api.example.com/x") == "http://proxy.corp:3128");
  CHECK(proxy_from_environment(env, "https://k8s.internal:6443") == "");
  CHECK(proxy_from_environment(env, "https://10.0.0.1:6443") == "");
  CHECK(proxy_from_environment(env, "https://svc:8443") == "");
  CHECK(proxy_from_environment(env, "https://svc:6443") == "http://proxy.corp:3128");
  CHECK(proxy_from_environment(env, "https://127.0.0.1:6443") == "");  // loopback is never proxied
  CHECK(proxy_from_environment(env, "http://api.example.com") == "");  // no HTTP_PROXY
}
