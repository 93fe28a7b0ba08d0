#include <gpuorch/kube/exec_plugin.hpp>

#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <gpuorch/kube/client.hpp>

#include "unit/kube/fakes.hpp"
#include "unit/kube/test_server.hpp"

using gpuorch::Error;
using gpuorch::ErrorCode;
using gpuorch::Result;
using namespace gpuorch::kube;
using namespace gpuorch::kube::testing;
using nlohmann::json;

namespace {

/// Answers with queued outputs and records what it was asked to run.
class FakeRunner final : public ProcessRunner {
 public:
  std::vector<ProcessSpec> specs;
  std::vector<Result<ProcessOutput>> outputs;
  Result<ProcessOutput> run(const ProcessSpec& spec) override {
    specs.push_back(spec);
    if (outputs.empty()) {
      return Error(ErrorCode::internal, "no output queued");
    }
    auto next = std::move(outputs.front());
    outputs.erase(outputs.begin());
    return next;
  }
};

std::string credential(const std::string& token, const std::string& expiry = "",
                       const std::string& version = "client.authentication.k8s.io/v1") {
  json status = {{"token", token}};
  if (!expiry.empty()) {
    status["expirationTimestamp"] = expiry;
  }
  return json{{"apiVersion", version}, {"kind", "ExecCredential"}, {"status", status}}.dump();
}

ExecConfig v1_config() {
  ExecConfig config;
  config.command = "cloud-auth";
  config.args = {"token", "--cluster", "prod"};
  config.env = {{"REGION", "eu"}};
  config.api_version = "client.authentication.k8s.io/v1";
  config.interactive_mode = "Never";
  config.install_hint = "Install cloud-auth with: apt install cloud-auth";
  return config;
}

struct ExecFixture {
  FakeClock clock;
  FakeRunner runner;
  Environment env{{"PATH", "/usr/bin"}, {"HOME", "/home/u"}};
  ExecCredentialProvider provider(ExecConfig config = v1_config(), bool terminal = false) {
    return ExecCredentialProvider(std::move(config), R"({"server":"https://k:6443"})", env, runner, clock, terminal,
                                  "user \"alice\" in context \"prod\"");
  }
  std::string error_of(ExecConfig config, Result<ProcessOutput> output, bool terminal = false) {
    runner.outputs.push_back(std::move(output));
    auto p = provider(std::move(config), terminal);
    auto result = p.get();
    REQUIRE(!result.ok());
    CHECK(result.error().code() == ErrorCode::auth);
    return result.error().message();
  }
};

}  // namespace

TEST_CASE_FIXTURE(ExecFixture, "exec plugin: argv, environment and ExecCredential input") {
  auto config = v1_config();
  config.provide_cluster_info = true;
  runner.outputs.push_back(ProcessOutput{0, credential("tok-1")});
  auto p = provider(config);
  CHECK(p.get().value_or_throw().token == "tok-1");
  REQUIRE(runner.specs.size() == 1);
  const auto& spec = runner.specs[0];
  CHECK(spec.command == "cloud-auth");
  CHECK(spec.args == std::vector<std::string>{"token", "--cluster", "prod"});
  CHECK(spec.env.value("HOME") == "/home/u");
  CHECK(spec.env.value("REGION") == "eu");
  CHECK(!spec.connect_stdin);
  CHECK(json::parse(spec.env.value("KUBERNETES_EXEC_INFO")) ==
        json::parse(R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
                        "spec":{"interactive":false,"cluster":{"server":"https://k:6443"}}})"));
}

TEST_CASE_FIXTURE(ExecFixture, "exec plugin: credentials are cached until expirationTimestamp") {
  clock.set_wall(parse_rfc3339("2026-11-29T10:00:00Z").value_or_throw());
  runner.outputs.push_back(ProcessOutput{0, credential("first", "2026-11-29T10:05:00Z")});
  runner.outputs.push_back(ProcessOutput{0, credential("second")});
  auto p = provider();
  CHECK(p.get().value_or_throw().token == "first");
  clock.advance(std::chrono::minutes(4));
  CHECK(p.get().value_or_throw().token == "first");
  CHECK(p.runs() == 1);
  clock.advance(std::chrono::minutes(2));
  CHECK(p.get().value_or_throw().token == "second");
  CHECK(p.runs() == 2);
  // No expiry: kept until invalidated (a 401).
  clock.advance(std::chrono::hours(24));
  CHECK(p.get().value_or_throw().token == "second");
  p.invalidate();
  runner.outputs.push_back(ProcessOutput{0, credential("third")});
  CHECK(p.get().value_or_throw().token == "third");
}

TEST_CASE_FIXTURE(ExecFixture, "exec plugin: interactive modes") {
  auto config = v1_config();
  config.interactive_mode = "IfAvailable";
  runner.outputs.push_back(ProcessOutput{0, credential("t")});
  (void)provider(config, true).get().value_or_throw();
  CHECK(runner.specs.back().connect_stdin);
  CHECK(json::parse(runner.specs.back().env.value("KUBERNETES_EXEC_INFO"))["spec"]["interactive"] == true);

  config.interactive_mode = "Always";
  CHECK(error_of(config, ProcessOutput{0, credential("t")}) ==
        "exec credential plugin \"cloud-auth\" for user \"alice\" in context \"prod\": interactiveMode is Always but "
        "standard input is not a terminal");
}

TEST_CASE_FIXTURE(ExecFixture, "exec plugin: failures are explained") {
  CHECK(error_of(v1_config(), Error(ErrorCode::not_found, "executable \"cloud-auth\" not found")) ==
        "exec credential plugin \"cloud-auth\" for user \"alice\" in context \"prod\" not found: no executable "
        "\"cloud-auth\" on PATH\nInstall cloud-auth with: apt install cloud-auth");
  CHECK(error_of(v1_config(), ProcessOutput{1, ""}) ==
        "exec credential plugin \"cloud-auth\" for user \"alice\" in context \"prod\": exited with status 1 (its "
        "error output is shown above)");
  CHECK(error_of(v1_config(), ProcessOutput{0, "Please log in at https://example"}) ==
        "exec credential plugin \"cloud-auth\" for user \"alice\" in context \"prod\": output is not a JSON "
        "ExecCredential");
  CHECK(error_of(v1_config(), ProcessOutput{0, credential("t", "", "client.authentication.k8s.io/v1beta1")}) ==
        "exec credential plugin \"cloud-auth\" for user \"alice\" in context \"prod\": returned apiVersion "
        "\"client.authentication.k8s.io/v1beta1\", but the kubeconfig asks for \"client.authentication.k8s.io/v1\"");
  CHECK(error_of(v1_config(), ProcessOutput{0, R"({"apiVersion":"client.authentication.k8s.io/v1",
                                                   "kind":"ExecCredential","status":{}})"}) ==
        "exec credential plugin \"cloud-auth\" for user \"alice\" in context \"prod\": returned neither a token nor a "
        "client certificate and key");
  CHECK(error_of(v1_config(), ProcessOutput{0, R"({"apiVersion":"client.authentication.k8s.io/v1",
                              "kind":"ExecCredential","status":{"clientCertificateData":"PEM"}})"}) ==
        "exec credential plugin \"cloud-auth\" for user \"alice\" in context \"prod\": returned clientCertificateData "
        "without clientKeyData");
  CHECK(error_of(v1_config(), ProcessOutput{0, credential("t", "tomorrow")}) ==
        "exec credential plugin \"cloud-auth\" for user \"alice\" in context \"prod\": status.expirationTimestamp: "
        "invalid RFC 3339 time \"tomorrow\"");
}

TEST_CASE("parse_rfc3339") {
  using namespace std::chrono;
  const auto base = parse_rfc3339("2026-11-29T10:00:00Z").value_or_throw();
  CHECK(duration_cast<seconds>(base.time_since_epoch()).count() == 1795946400);
  CHECK(parse_rfc3339("2026-11-29T11:30:00+01:30").value_or_throw() == base);
  CHECK(parse_rfc3339("2026-11-29T10:00:00.250Z").value_or_throw() - base == milliseconds(250));
  CHECK(!parse_rfc3339("2026-11-29 10:00:00").ok());
}

TEST_CASE("PosixProcessRunner runs argv without a shell, with the given environment") {
  char dir_template[] = "/tmp/gpuorch-exec-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::filesystem::path dir(dir_template);
  const auto script = dir / "plugin";
  {
    std::ofstream out(script);
    out << "#!/bin/sh\nprintf '%s|' \"$@\"\nprintf '%s' \"$GREETING\"\nread line || echo ' no-stdin'\n";
  }
  ::chmod(script.c_str(), 0755);
  PosixProcessRunner runner;
  ProcessSpec spec;
  spec.command = "plugin";
  spec.args = {"a b", "$(touch " + (dir / "pwned").string() + ")", ";"};
  spec.env = Environment({{"PATH", dir.string()}, {"GREETING", "hi"}});
  auto output = runner.run(spec).value_or_throw();
  CHECK(output.exit_code == 0);
  CHECK(output.stdout_data == "a b|$(touch " + (dir / "pwned").string() + ")|;|hi no-stdin\n");
  CHECK(!std::filesystem::exists(dir / "pwned"));

  spec.command = "not-installed-anywhere";
  auto missing = runner.run(spec);
  REQUIRE(!missing.ok());
  CHECK(missing.error().code() == ErrorCode::not_found);

  spec.command = script.string();
  spec.args = {};
  {
    std::ofstream out(script);
    out << "#!/bin/sh\nexit 7\n";
  }
  CHECK(runner.run(spec).value_or_throw().exit_code == 7);
  std::filesystem::remove_all(dir);
}

TEST_CASE("exec credentials through the client: refreshed and retried once on 401") {
  TestServer server;
  std::atomic<int> calls{0};
  server.http().Get("/api/v1/nodes", [&](const httplib::Request& req, httplib::Response& res) {
    ++calls;
    if (req.get_header_value("Authorization") != "Bearer fresh") {
      res.status = 401;
      res.set_content(R"({"kind":"Status","code":401,"reason":"Unauthorized","message":"Unauthorized"})",
                      "application/json");
      return;
    }
    res.set_content("{}", "application/json");
  });
  server.start();
  auto runner = std::make_shared<FakeRunner>();
  runner->outputs.push_back(ProcessOutput{0, credential("stale")});
  runner->outputs.push_back(ProcessOutput{0, credential("fresh")});
  RestConfig config;
  config.server = server.url();
  config.exec = v1_config();
  ClientDeps deps;
  deps.clock = std::make_shared<FakeClock>();
  deps.process_runner = runner;
  auto client = Client::create(config, {}, Environment({}), deps).value_or_throw();
  CHECK(client->list(resources::nodes(), "").ok());
  CHECK(calls == 2);
  CHECK(runner->specs.size() == 2);
  CHECK(client->list(resources::nodes(), "").ok());  // cached
  CHECK(runner->specs.size() == 2);
}
