// `gpuorch get` end to end against an API server started by the test.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "unit/kube/test_server.hpp"

using namespace gpuorch::cli;

namespace {

struct GetFixture {
  gpuorch::kube::testing::TestServer server;
  std::filesystem::path dir;
  std::string kubeconfig;

  GetFixture() {
    const std::string base = "/apis/gpuorch.io/v1alpha1";
    server.http().Get(base + "/namespaces/ml/gpuworkloads", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(
          R"({"kind":"GPUWorkloadList","apiVersion":"gpuorch.io/v1alpha1","metadata":{"resourceVersion":"9"},
        "items":[{"apiVersion":"gpuorch.io/v1alpha1","kind":"GPUWorkload","metadata":{"name":"llama","namespace":"ml"},
                  "spec":{"modelName":"llama-3-8b","gpuCount":4,"schedulingStrategy":"BestFit"},
                  "status":{"phase":"Running","assignedNode":"gpu-1","retryCount":1}}]})",
          "application/json");
    });
    server.http().Get(base + "/namespaces/empty/gpuworkloads", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"kind":"GPUWorkloadList","metadata":{},"items":[]})", "application/json");
    });
    server.http().Get(base + "/namespaces/ml/gpuworkloads/missing",
                      [](const httplib::Request&, httplib::Response& res) {
                        res.status = 404;
                        res.set_content(R"({"kind":"Status","status":"Failure","reason":"NotFound","code":404,
        "message":"gpuworkloads.gpuorch.io \"missing\" not found","details":{"name":"missing"}})",
                                        "application/json");
                      });
    server.http().Get(base + "/namespaces/nocrd/gpuworkloads", [](const httplib::Request&, httplib::Response& res) {
      res.status = 404;
      res.set_content(R"({"kind":"Status","status":"Failure","reason":"NotFound","code":404,
        "message":"the server could not find the requested resource"})",
                      "application/json");
    });
    server.start();
    char dir_template[] = "/tmp/gpuorch-get-XXXXXX";
    REQUIRE(::mkdtemp(dir_template) != nullptr);
    dir = dir_template;
    kubeconfig = (dir / "config").string();
    std::ofstream(kubeconfig) << "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
                                 "clusters: [{name: t, cluster: {server: '"
                              << server.url() << "'}}]\ncontexts: [{name: t, context: {cluster: t, namespace: ml}}]\n";
  }
  ~GetFixture() { std::filesystem::remove_all(dir); }

  int run(std::vector<std::string> args, std::string& out, std::string& err) {
    std::istringstream in;
    std::ostringstream out_stream;
    std::ostringstream err_stream;
    Context ctx(Io{in, out_stream, err_stream});
    args.insert(args.begin(), {"--kubeconfig", kubeconfig});
    const int code = run_cli(ctx, args);
    out = out_stream.str();
    err = err_stream.str();
    return code;
  }
};

}  // namespace

TEST_CASE_FIXTURE(GetFixture, "get prints the table of the context's namespace") {
  std::string out;
  std::string err;
  CHECK(run({"get"}, out, err) == 0);
  CHECK(out ==
        "NAME    PHASE     GPUS   NODE    STRATEGY   RETRIES   AGE\n"
        "llama   Running   4      gpu-1   BestFit    1         <unknown>\n");
  CHECK(err.empty());

  CHECK(run({"get", "-o", "name"}, out, err) == 0);
  CHECK(out == "gpuworkload.gpuorch.io/llama\n");

  CHECK(run({"get", "-o", "json"}, out, err) == 0);
  const auto list = nlohmann::json::parse(out);
  CHECK(list["kind"] == "List");
  CHECK(list["items"][0]["metadata"]["name"] == "llama");
}

TEST_CASE_FIXTURE(GetFixture, "workload names, contexts and clusters are completed") {
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  Context ctx(Io{in, out, err});
  CHECK(run_cli(ctx, {"__complete", "--kubeconfig", kubeconfig, "get", "ll"}) == 0);
  CHECK(out.str() == "llama\tRunning\n:0\n");
  out.str("");
  CHECK(run_cli(ctx, {"__complete", "--kubeconfig", kubeconfig, "--context", ""}) == 0);
  CHECK(out.str() == "t\tcluster t, namespace ml\n:0\n");
  out.str("");
  CHECK(run_cli(ctx, {"__complete", "--kubeconfig", kubeconfig, "--cluster", ""}) == 0);
  CHECK(out.str() == "t\t" + server.url() + "\n:0\n");
}

TEST_CASE_FIXTURE(GetFixture, "get reports empty lists, missing objects and a missing CRD like kubectl") {
  std::string out;
  std::string err;
  CHECK(run({"get", "-n", "empty"}, out, err) == 0);
  CHECK(out.empty());
  CHECK(err == "No resources found in empty namespace.\n");

  CHECK(run({"get", "missing"}, out, err) == 1);
  CHECK(err == "Error from server (NotFound): gpuworkloads.gpuorch.io \"missing\" not found\n");

  CHECK(run({"get", "-n", "nocrd"}, out, err) == 1);
  CHECK(err == "error: the server doesn't have a resource type \"gpuworkloads\" (is the GPUWorkload CRD installed?)\n");
}
