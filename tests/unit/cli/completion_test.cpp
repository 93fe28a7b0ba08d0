#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "app.hpp"
#include "completion.hpp"
#include "unit/kube/test_server.hpp"

namespace gpuorch::cli {
namespace {

struct Fixture {
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  Context ctx{Io{in, out, err}};
  std::unique_ptr<CLI::App> app = build_app(ctx);

  std::vector<std::string> values(const std::vector<std::string>& words) {
    std::vector<std::string> result;
    for (const auto& c : complete(ctx, *app, words).candidates) {
      result.push_back(c.value);
    }
    return result;
  }
};

using Strings = std::vector<std::string>;

}  // namespace

namespace testing_server {

/// An API server with GPUWorkloads in the namespaces ml and cv.
struct Server {
  gpuorch::kube::testing::TestServer server;
  Server() {
    const std::string base = "/apis/gpuorch.io/v1alpha1/namespaces/";
    server.http().Get(base + "ml/gpuworkloads", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"kind":"GPUWorkloadList","metadata":{},"items":[
          {"metadata":{"name":"llama-a"},"status":{"phase":"Running"}},{"metadata":{"name":"llama-b"}}]})",
                      "application/json");
    });
    server.http().Get(base + "cv/gpuworkloads", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"kind":"GPUWorkloadList","metadata":{},"items":[{"metadata":{"name":"resnet"}}]})",
                      "application/json");
    });
    server.start();
  }
  [[nodiscard]] std::string url() const { return server.url(); }
};

}  // namespace testing_server

TEST_CASE("commands and their descriptions come from the CLI definition") {
  Fixture f;
  const auto c = complete(f.ctx, *f.app, {""});
  CHECK(c.directive == k_complete_default);
  REQUIRE(c.candidates.size() >= 2);
  CHECK(std::find(c.candidates.begin(), c.candidates.end(), Candidate{"version", "Print the gpuorch version"}) !=
        c.candidates.end());
  CHECK(f.values({"ver"}) == Strings{"version"});
  CHECK(f.values({"nothing"}).empty());
}

TEST_CASE("reconcile: its flags and their fixed values complete") {
  Fixture f;
  CHECK(f.values({"rec"}) == Strings{"reconcile"});
  CHECK(f.values({"reconcile", "--qu"}) == Strings{"--queueing"});
  CHECK(f.values({"reconcile", "--queueing", ""}) == Strings{"best-effort", "strict"});
  CHECK(f.values({"reconcile", "-o", ""}) == Strings{"table", "json"});
  CHECK(f.values({"reconcile", "--dry-run", "--dry"}).empty());  // a flag already given is not offered again
  CHECK(f.values({"reconcile", "--watch", "--healthz"}) == Strings{"--healthz-stall-timeout"});
  CHECK(f.values({"reconcile", "--watch", "--health"}) == Strings{"--health-addr", "--healthz-stall-timeout"});
}

TEST_CASE("install and uninstall: their flags and fixed values complete") {
  Fixture f;
  CHECK(f.values({"ins"}) == Strings{"install"});
  CHECK(f.values({"un"}) == Strings{"uninstall"});
  CHECK(f.values({"install", "--mode", ""}) == Strings{"cronjob", "deployment"});
  CHECK(f.values({"install", "-o", ""}) == Strings{"yaml", "json", "name"});
  CHECK(f.values({"uninstall", "--ke"}) == Strings{"--keep-crd"});
  CHECK(f.values({"uninstall", "--force", "--fo"}).empty());  // a flag already given is not offered again
}

TEST_CASE("a command added later is completed without further work, hidden ones are not") {
  Fixture f;
  bool wait = false;
  f.app->add_subcommand("promote", "Raise a GPUWorkload's priority")->add_flag("--wait", wait, "Follow it to the end");
  f.app->add_subcommand("__debug", "internal")->group("");
  CHECK(f.values({"pro"}) == Strings{"promote"});
  CHECK(f.values({"_"}).empty());
  CHECK(f.values({"promote", "--wa"}) == Strings{"--wait"});
}

TEST_CASE("submit, get and delete: their flags and values") {
  Fixture f;
  CHECK(f.values({"su"}) == Strings{"submit"});
  CHECK(f.values({"de"}) == Strings{"describe", "delete"});
  CHECK(f.values({"submit", "--strategy", ""}) ==
        Strings{"LeastLoaded", "Random", "CostOptimized", "BestFit", "MinFragmentation"});
  CHECK(f.values({"submit", "--wa"}) == Strings{"--wait"});
  CHECK(f.values({"submit", "--dry"}) == Strings{"--dry-run"});
  CHECK(f.values({"submit", "-o", ""}) == Strings{"name", "json", "yaml"});
  CHECK(f.values({"get", "-o", ""}) == Strings{"wide", "json", "yaml", "name", "jsonpath=", "custom-columns="});
  CHECK(f.values({"get", "--wat"}) == Strings{"--watch", "--watch-only"});
  CHECK(f.values({"delete", "--ig"}) == Strings{"--ignore-not-found"});
  // delete's --dry-run takes its mode only after '=', and completes it there.
  CHECK(f.values({"delete", "--dry"}) == Strings{"--dry-run"});
  CHECK(f.values({"delete", "--dry-run="}) == Strings{"--dry-run=none", "--dry-run=client", "--dry-run=server"});
  CHECK(f.values({"delete", "--dry-run", "s"}).empty());  // a name (none here), not a mode
  CHECK(complete(f.ctx, *f.app, {"submit", "-f", ""}).directive == k_complete_files);
}

TEST_CASE("flags: long and short, the command's own first, then the global ones") {
  Fixture f;
  const auto all = f.values({"version", "-"});
  REQUIRE(all.size() > 4);
  CHECK(all[0] == "--help");
  CHECK(std::find(all.begin(), all.end(), "-o") != all.end());
  CHECK(std::find(all.begin(), all.end(), "--kubeconfig") != all.end());
  CHECK(std::find(all.begin(), all.end(), "-n") != all.end());
  CHECK(f.values({"version", "--ou"}) == Strings{"--output"});
  // A flag already given is not offered again.
  CHECK(f.values({"version", "-o", "json", "--ou"}).empty());
  CHECK(f.values({"version", "--output=json", "--ou"}).empty());
}

TEST_CASE("flag values come from IsMember and Range checks") {
  Fixture f;
  CHECK(f.values({"version", "-o", ""}) == Strings{"json", "yaml"});
  CHECK(f.values({"version", "--output", "y"}) == Strings{"yaml"});
  CHECK(f.values({"version", "--output=j"}) == Strings{"--output=json"});
  CHECK(f.values({"version", "-oj"}).empty());  // attached short values are not split
  CHECK(f.values({"--log-format", ""}) == Strings{"text", "json"});
  CHECK(f.values({"-v", ""}).size() == 10);
  CHECK(f.values({"completion", ""}) == Strings{"bash", "zsh", "fish"});
  CHECK(f.values({"completion", "bash", ""}).empty());  // the one positional is filled
}

TEST_CASE("FILE-typed flags ask the shell for file names, free-form ones for nothing") {
  Fixture f;
  const auto file = complete(f.ctx, *f.app, {"--kubeconfig", ""});
  CHECK(file.directive == k_complete_files);
  CHECK(file.candidates.empty());
  CHECK(complete(f.ctx, *f.app, {"version", "--client-key=x"}).directive == k_complete_files);
  const auto free_form = complete(f.ctx, *f.app, {"--context", ""});
  CHECK(free_form.directive == k_complete_default);
  CHECK(free_form.candidates.empty());
  CHECK(complete(f.ctx, *f.app, {"--no-such-flag=x"}).directive == k_complete_error);
}

TEST_CASE("flag values before the word do not shift the command or positionals") {
  Fixture f;
  CHECK(f.values({"--context", "version", "ver"}) == Strings{"version"});
  CHECK(f.values({"-n", "ml", "--insecure-skip-tls-verify", "completion", "z"}) == Strings{"zsh"});
  CHECK(f.values({"--kubeconfig=/tmp/x", "completion", "f"}) == Strings{"fish"});
}

TEST_CASE("dynamic completers see the flags already given and are filtered by prefix") {
  Fixture f;
  auto* get = f.app->add_subcommand("demo", "List workloads");
  std::string name;
  auto* positional = get->add_option("name", name, "Workload name");
  std::string strategy;
  auto* strategy_flag = get->add_option("--strategy", strategy, "Placement strategy")->type_name("NAME");
  register_completer(f.ctx, positional, [](Context& ctx, std::string_view prefix) {
    CHECK(prefix == "tr");
    const std::string ns = ctx.global.namespace_name.empty() ? "default" : ctx.global.namespace_name;
    return Completions{{{"train-" + ns, "Running"}, {"eval-" + ns, ""}, {"tr-x", ""}}, k_complete_default};
  });
  register_completer(f.ctx, strategy_flag, fixed_completer({{"BestFit", "packs"}, {"LeastLoaded", "spreads"}}));

  CHECK(f.values({"demo", "tr"}) == Strings{"train-default", "tr-x"});
  CHECK(f.values({"-n", "ml", "demo", "tr"}) == Strings{"train-ml", "tr-x"});
  CHECK(f.values({"demo", "--namespace=prod", "tr"}) == Strings{"train-prod", "tr-x"});
  CHECK(f.values({"demo", "--strategy", ""}) == Strings{"BestFit", "LeastLoaded"});
  CHECK(f.values({"demo", "--strategy=L"}) == Strings{"--strategy=LeastLoaded"});
}

TEST_CASE("after -- only positional arguments are completed") {
  Fixture f;
  CHECK(f.values({"completion", "--", "-"}).empty());
  CHECK(f.values({"completion", "--", "b"}) == Strings{"bash"});
}

TEST_CASE("the protocol: one candidate per line, then the directive") {
  std::ostringstream out;
  write_completions(out, {{{"version", "Print the\tversion\n"}, {"zsh", ""}}, k_complete_no_space | k_complete_files});
  CHECK(out.str() == "version\tPrint the version \nzsh\n:6\n");
}

TEST_CASE("gpuorch __complete runs before flag parsing") {
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  Context ctx(Io{in, out, err});
  // CLI11 would print the help for this; __complete completes it.
  CHECK(run_cli(ctx, {"__complete", "--help"}) == 0);
  CHECK(out.str() == "--help\tPrint this help message and exit\n--help-all\tPrint help for every command\n:0\n");
  std::ostringstream out2;
  Context ctx2(Io{in, out2, err});
  CHECK(run_cli(ctx2, {"__complete", "version", "--o"}) == 0);
  CHECK(out2.str() == "--output\tOutput format\n:0\n");
  CHECK(err.str().empty());
}

TEST_CASE("completion scripts exist for the three shells and call __complete") {
  for (const auto* shell : {"bash", "zsh", "fish"}) {
    CAPTURE(shell);
    const auto script = completion_script(shell);
    CHECK(script.find("__complete") != std::string_view::npos);
  }
  CHECK(completion_script("tcsh").empty());
}

TEST_CASE("kubectl plugin completion answers with cobra's directive bits") {
  CHECK(to_cobra_directives({{{"get", "List"}}, k_complete_default}).directive == 4);
  CHECK(to_cobra_directives({{{"--output=", ""}}, k_complete_no_space}).directive == 6);
  const auto files = to_cobra_directives({{{"ignored", ""}}, k_complete_files});
  CHECK(files.directive == 0);  // cobra's default is file completion
  CHECK(files.candidates.empty());
  CHECK(to_cobra_directives({{}, k_complete_dirs}).directive == 16);
  CHECK(to_cobra_directives({{{"x", ""}}, k_complete_error}).directive == 1);
}

TEST_CASE("describe and get complete workload names of the namespace the line selects") {
  testing_server::Server server;
  Fixture f;
  char dir_template[] = "/tmp/gpuorch-completion-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::filesystem::path dir(dir_template);
  const auto kubeconfig = (dir / "config").string();
  std::ofstream(kubeconfig)
      << "apiVersion: v1\nkind: Config\ncurrent-context: t\nclusters: [{name: t, cluster: {server: '" << server.url()
      << "'}}]\ncontexts: [{name: t, context: {cluster: t, namespace: ml}}]\n";
  CHECK(f.values({"--kubeconfig", kubeconfig, "describe", ""}) == Strings{"llama-a", "llama-b"});
  CHECK(f.values({"--kubeconfig", kubeconfig, "describe", "llama-a", "llama-"}) == Strings{"llama-a", "llama-b"});
  CHECK(f.values({"--kubeconfig", kubeconfig, "-n", "cv", "describe", ""}) == Strings{"resnet"});
  CHECK(f.values({"--kubeconfig", kubeconfig, "get", "--namespace=cv", "r"}) == Strings{"resnet"});
  CHECK(f.err.str().empty());
  std::filesystem::remove_all(dir);
}

}  // namespace gpuorch::cli
