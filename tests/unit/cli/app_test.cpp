#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <gpuorch/version.hpp>
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "commands.hpp"

namespace gpuorch::cli {
namespace {

struct Run {
  int code;
  std::string out;
  std::string err;
};

Run run(std::vector<std::string> args) {
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  Context ctx(Io{in, out, err});
  const int code = run_cli(ctx, std::move(args));
  return {code, out.str(), err.str()};
}

}  // namespace

TEST_CASE("version prints the build version") {
  const auto r = run({"version"});
  CHECK(r.code == 0);
  CHECK(r.out.starts_with(std::string("gpuorch v") + build_info::k_version));
  CHECK(r.err.empty());
}

TEST_CASE("version -o json is machine-readable") {
  const auto r = run({"version", "-o", "json"});
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j.at("gitVersion") == std::string("v") + build_info::k_version);
  CHECK(j.contains("gitCommit"));
}

TEST_CASE("usage errors exit 2 with one error line, never CLI11's own codes") {
  const auto unknown = run({"frobnicate"});
  CHECK(unknown.code == 2);
  CHECK(unknown.out.empty());
  CHECK(unknown.err.starts_with("error: "));

  const auto none = run({});
  CHECK(none.code == 2);

  const auto bad_value = run({"version", "-o", "xml"});
  CHECK(bad_value.code == 2);
  CHECK(bad_value.err.find("xml") != std::string::npos);

  const auto bad_verbosity = run({"-v", "12", "version"});
  CHECK(bad_verbosity.code == 2);
}

TEST_CASE("--help prints usage to stdout and exits 0") {
  const auto r = run({"--help"});
  CHECK(r.code == 0);
  CHECK(r.out.find("version") != std::string::npos);
  CHECK(r.out.find("--kubeconfig") != std::string::npos);
  const auto sub = run({"version", "--help"});
  CHECK(sub.code == 0);
  CHECK(sub.out.find("--output") != std::string::npos);
}

TEST_CASE("global flags are accepted before and after the command") {
  CHECK(run({"-v", "4", "version"}).code == 0);
  CHECK(run({"version", "--log-format", "json"}).code == 0);
  CHECK(run({"--log-format", "xml", "version"}).code == 2);
}

}  // namespace gpuorch::cli

namespace gpuorch::cli {

TEST_CASE("command_named_by finds the command without parsing, or says it cannot") {
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  Context ctx(Io{in, out, err});
  const auto app = build_app(ctx);
  const auto named = [&](std::vector<std::string> args) { return std::string(command_named_by(*app, args)); };
  CHECK(named({"submit", "-f", "x.yaml"}) == "submit");
  CHECK(named({"get"}) == "get");
  // The values of global flags are skipped, however they are spelled.
  CHECK(named({"-n", "get", "submit"}) == "submit");
  CHECK(named({"--namespace", "version", "get"}) == "get");
  CHECK(named({"--kubeconfig", "describe", "-v", "8", "delete", "x"}) == "delete");
  CHECK(named({"--namespace=version", "get"}) == "get");
  CHECK(named({"-nversion", "get"}) == "get");
  CHECK(named({"--context", "c", "--insecure-skip-tls-verify", "--in-cluster", "reconcile"}) == "reconcile");
  // Not certain: build everything.
  CHECK(named({}).empty());
  CHECK(named({"-n", "ml"}).empty());
  CHECK(named({"frobnicate", "submit"}).empty());
  CHECK(named({"--", "submit"}).empty());
  CHECK(named({"--help", "submit"}).empty());
  CHECK(named({"-h", "submit"}).empty());
  CHECK(named({"--help-all", "get"}).empty());
  // Help after the command is that command's help: its tree is enough.
  CHECK(named({"submit", "--help"}) == "submit");
}

TEST_CASE("a command built alone has the flags it has in the whole tree") {
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  Context full_ctx(Io{in, out, err});
  const auto full = build_app(full_ctx);
  const auto flags_of = [](const CLI::App& command) {
    std::vector<std::string> names;
    for (const CLI::Option* option : command.get_options()) {
      names.push_back(option->get_name() + " " + option->get_description());
    }
    return names;
  };
  for (const CommandSpec& command : command_table()) {
    CAPTURE(command.name);
    Context ctx(Io{in, out, err});
    const auto alone = build_app(ctx, command.name);
    CHECK(alone->get_subcommands([](CLI::App*) { return true; }).size() == 1);
    const CLI::App* sub = alone->get_subcommand(std::string(command.name));
    const CLI::App* sub_full = full->get_subcommand(std::string(command.name));
    REQUIRE(sub != nullptr);
    REQUIRE(sub_full != nullptr);
    CHECK(flags_of(*sub) == flags_of(*sub_full));
    CHECK(sub->get_description() == sub_full->get_description());
    CHECK(flags_of(*alone) == flags_of(*full));
  }
}

}  // namespace gpuorch::cli
