// `gpuorch submit` against a fake API server started by the test: what is
// sent, what is not sent, and what is printed.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "unit/kube/test_server.hpp"

using namespace gpuorch::cli;
using nlohmann::json;

namespace {

struct SubmitFixture {
  gpuorch::kube::testing::TestServer server;
  std::filesystem::path dir;
  std::string kubeconfig;
  std::mutex mutex;
  std::vector<std::string> requests;  // "POST /path?query"
  std::vector<json> bodies;

  SubmitFixture() {
    server.http().Post("/apis/gpuorch.io/v1alpha1/namespaces/ml/gpuworkloads",
                       [this](const httplib::Request& req, httplib::Response& res) {
                         std::lock_guard lock(mutex);
                         std::string line = req.method + " " + req.path;
                         if (req.has_param("dryRun")) {
                           line += "?dryRun=" + req.get_param_value("dryRun");
                         }
                         requests.push_back(line);
                         json object = json::parse(req.body);
                         bodies.push_back(object);
                         object["metadata"]["uid"] = "u-1";
                         object["metadata"]["resourceVersion"] = "5";
                         res.status = 201;
                         res.set_content(object.dump(), "application/json");
                       });
    server.start();
    char dir_template[] = "/tmp/gpuorch-submit-XXXXXX";
    REQUIRE(::mkdtemp(dir_template) != nullptr);
    dir = dir_template;
    kubeconfig = (dir / "config").string();
    std::ofstream(kubeconfig) << "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
                                 "clusters: [{name: t, cluster: {server: '"
                              << server.url() << "'}}]\ncontexts: [{name: t, context: {cluster: t, namespace: ml}}]\n";
  }
  ~SubmitFixture() { std::filesystem::remove_all(dir); }

  int run(std::vector<std::string> args, std::string& out, std::string& err, const std::string& stdin_text = "") {
    std::istringstream in(stdin_text);
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

TEST_CASE_FIXTURE(SubmitFixture, "submit sends the workload the flags describe, in the context's namespace") {
  std::string out;
  std::string err;
  CHECK(run({"submit", "--name", "llama", "--model", "llama-3-8b", "--gpus", "4", "--env", "A=1", "--", "python",
             "train.py"},
            out, err) == 0);
  CHECK(err.empty());
  CHECK(out == "gpuworkload.gpuorch.io/llama created\n");
  REQUIRE(bodies.size() == 1);
  CHECK(bodies[0] == json::parse(R"({"apiVersion":"gpuorch.io/v1alpha1","kind":"GPUWorkload",
      "metadata":{"name":"llama","namespace":"ml"},
      "spec":{"modelName":"llama-3-8b","gpuCount":4,"env":[{"name":"A","value":"1"}],"command":["python","train.py"]}})"));
  CHECK(requests[0] == "POST /apis/gpuorch.io/v1alpha1/namespaces/ml/gpuworkloads");
}

TEST_CASE_FIXTURE(SubmitFixture, "invalid input is reported with its flag or location and nothing is sent") {
  std::string out;
  std::string err;
  CHECK(run({"submit", "--name", "llama", "--model", "m", "--gpus", "0"}, out, err) == 2);
  CHECK(err == "error: spec.gpuCount: must be >= 1, got 0 (--gpus)\n");
  CHECK(run({"submit", "--name", "llama", "--model", "m", "--gpus", "1", "--env", "NOVALUE"}, out, err) == 2);
  CHECK(err.rfind("error: --env: expected KEY=VALUE, got \"NOVALUE\"\n", 0) == 0);
  CHECK(
      run({"submit", "-f", "-"}, out, err,
          "apiVersion: gpuorch.io/v1alpha1\nkind: GPUWorkload\nmetadata: {name: a}\nspec: {modelName: m, gpuCount: 1}\n"
          "---\napiVersion: gpuorch.io/v1alpha1\nkind: GPUWorkload\nmetadata: {name: b}\nspec: {modelName: m, "
          "gpuCount: 1, schedulingStrategy: Fastest}\n") == 2);
  CHECK(err.rfind("<stdin>:9:", 0) == 0);
  CHECK(err.find("spec.schedulingStrategy") != std::string::npos);
  CHECK(run({"submit"}, out, err) == 2);
  CHECK(err.rfind("error: must specify -f FILE, or the workload as flags", 0) == 0);
  CHECK(requests.empty());
}

TEST_CASE_FIXTURE(SubmitFixture, "dry runs: server asks for dryRun=All, client sends nothing") {
  std::string out;
  std::string err;
  CHECK(run({"submit", "--name", "a", "--model", "m", "--gpus", "1", "--dry-run=server"}, out, err) == 0);
  CHECK(out == "gpuworkload.gpuorch.io/a created (server dry run)\n");
  REQUIRE(requests.size() == 1);
  CHECK(requests[0] == "POST /apis/gpuorch.io/v1alpha1/namespaces/ml/gpuworkloads?dryRun=All");
  CHECK(run({"submit", "--name", "a", "--model", "m", "--gpus", "1", "--dry-run", "-o", "json"}, out, err) == 0);
  CHECK(json::parse(out)["metadata"]["namespace"] == "ml");
  CHECK(requests.size() == 1);
}
