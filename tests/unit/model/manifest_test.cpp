#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <gpuorch/model/manifest.hpp>

namespace gpuorch::model {
namespace {

// An in-memory file system: paths ending in "/" are directories.
class FakeFileSystem final : public FileSystem {
 public:
  std::map<std::string, std::string> files;
  std::vector<std::string> directories;

  [[nodiscard]] Kind kind(const std::string& path) const override {
    if (files.count(path) != 0) {
      return Kind::file;
    }
    for (const auto& d : directories) {
      if (d == path || d + "/" == path) {
        return Kind::directory;
      }
    }
    return Kind::missing;
  }
  [[nodiscard]] Result<std::string> read(const std::string& path) const override {
    const auto it = files.find(path);
    if (it == files.end()) {
      return Error(ErrorCode::io, "cannot read \"" + path + "\"");
    }
    return it->second;
  }
  [[nodiscard]] Result<std::vector<std::string>> list(const std::string& directory) const override {
    std::vector<std::string> names;
    std::string prefix = directory;
    if (prefix.back() != '/') {
      prefix += '/';
    }
    for (const auto& [path, text] : files) {
      if (path.rfind(prefix, 0) == 0 && path.find('/', prefix.size()) == std::string::npos) {
        names.insert(names.begin(), path.substr(prefix.size()));  // reversed: the loader must sort
      }
    }
    for (const auto& d : directories) {
      if (d.rfind(prefix, 0) == 0 && d.size() > prefix.size()) {
        names.push_back(d.substr(prefix.size()));
      }
    }
    return names;
  }
};

const char* const k_valid = R"(apiVersion: gpuorch.io/v1alpha1
kind: GPUWorkload
metadata:
  name: train
spec:
  modelName: llama-3-8b
  gpuCount: 2
)";

std::vector<std::string> lines(const std::vector<ManifestResult>& results) {
  std::vector<std::string> out;
  for (const auto& r : results) {
    if (r.valid()) {
      out.push_back(r.source + ": valid");
    }
    for (const auto& c : r.causes) {
      out.push_back(c.to_string());
    }
  }
  return out;
}

std::vector<std::string> validate_text(const std::string& name, const std::string& text) {
  FakeFileSystem fs;
  fs.files[name] = text;
  return lines(validate_manifest_inputs(read_manifest_inputs({name}, fs, nullptr)));
}

}  // namespace

TEST_CASE("manifest errors carry file, line, column and field path") {
  CHECK(validate_text("job.yaml", k_valid) == std::vector<std::string>{"job.yaml: valid"});
  CHECK(validate_text("job.yaml", R"(apiVersion: gpuorch.io/v1alpha1
kind: GPUWorkload
metadata:
  name: train
spec:
  modelName: llama-3-8b
  gpuCount: 0
  gpuCnt: 4
  schedulingStrategy: Fastest
  resources:
    memory: 64GB
)") == std::vector<std::string>{
           "job.yaml:7:13: spec.gpuCount: must be >= 1, got 0",
           "job.yaml:8:3: spec: unknown field \"gpuCnt\"",
           "job.yaml:9:23: spec.schedulingStrategy: must be one of \"LeastLoaded\", \"Random\", \"CostOptimized\", "
           "\"BestFit\", \"MinFragmentation\", got \"Fastest\"",
           "job.yaml:11:13: spec.resources.memory: invalid quantity \"64GB\": unknown suffix \"GB\" (use n, u, m, "
           "k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent such as e3)",
       });
  // A missing required field points at the object that lacks it.
  CHECK(validate_text("job.yaml",
                      "apiVersion: gpuorch.io/v1alpha1\nkind: GPUWorkload\nmetadata:\n  name: a\nspec:\n"
                      "  gpuCount: 1\n") ==
        std::vector<std::string>{"job.yaml:6:3: spec.modelName: required field is missing"});
  CHECK(validate_text("job.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n") ==
        std::vector<std::string>{"job.yaml:1:13: apiVersion: must be \"gpuorch.io/v1alpha1\", got \"apps/v1\"",
                                 "job.yaml:2:7: kind: must be \"GPUWorkload\", got \"Deployment\""});
}

TEST_CASE("multi-document streams and Lists validate every object") {
  const std::string stream = std::string(k_valid) + "---\n" + k_valid + "    # second\n---\n" +
                             "apiVersion: gpuorch.io/v1alpha1\nkind: GPUWorkload\nmetadata:\n  name: c\nspec:\n"
                             "  modelName: x\n  gpuCount: -1\n";
  FakeFileSystem fs;
  fs.files["jobs.yaml"] = stream;
  const auto results = validate_manifest_inputs(read_manifest_inputs({"jobs.yaml"}, fs, nullptr));
  REQUIRE(results.size() == 3);
  CHECK(results[0].valid());
  CHECK(results[1].start == SourcePosition{9, 1});
  CHECK(results[1].documents_in_source == 3);
  CHECK(results[2].name == "c");
  CHECK(lines({results[2]}) == std::vector<std::string>{"jobs.yaml:24:13: spec.gpuCount: must be >= 1, got -1"});

  const std::string list = R"({"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "gpuorch.io/v1alpha1", "kind": "GPUWorkload", "metadata": {"name": "a"},
   "spec": {"modelName": "m", "gpuCount": 1}},
  {"apiVersion": "gpuorch.io/v1alpha1", "kind": "GPUWorkload", "metadata": {"name": "b"},
   "spec": {"modelName": "m", "gpuCount": 0}}
]}
)";
  CHECK(validate_text("list.json", list) ==
        std::vector<std::string>{"list.json: valid", "list.json:5:43: spec.gpuCount: must be >= 1, got 0"});
}

TEST_CASE("malformed input reports the parser's position") {
  CHECK(validate_text("bad.yaml", "apiVersion: gpuorch.io/v1alpha1\nkind: GPUWorkload\nspec:\n  gpuCount: [1\n") ==
        std::vector<std::string>{"bad.yaml:5:1: malformed YAML: end of sequence flow not found"});
  CHECK(validate_text("bad.yaml", "spec:\n  gpuCount: 1\n  gpuCount: 2\n") ==
        std::vector<std::string>{"bad.yaml:3:3: malformed YAML: mapping key \"gpuCount\" already defined at line 2"});
  CHECK(validate_text("bad.json", "{\n  \"spec\": {\"gpuCount\": 1,}\n}\n") ==
        std::vector<std::string>{"bad.json:2:26: malformed JSON: syntax error while parsing object key - unexpected "
                                 "'}'; expected string literal"});
  CHECK(validate_text("empty.yaml", "# nothing here\n") ==
        std::vector<std::string>{"empty.yaml: no objects found (the input is empty or only has comments)"});
  CHECK(validate_text("scalar.yaml", "just text\n") ==
        std::vector<std::string>{"scalar.yaml:1:1: must be an object, got \"just text\""});
}

TEST_CASE("inputs: files, directories, stdin and their errors") {
  FakeFileSystem fs;
  fs.files["dir/b.yaml"] = k_valid;
  fs.files["dir/a.yml"] = k_valid;
  fs.files["dir/c.json"] = R"({"apiVersion": "gpuorch.io/v1alpha1", "kind": "GPUWorkload", "metadata": {"name": "j"},
                              "spec": {"modelName": "m", "gpuCount": 1}})";
  fs.files["dir/notes.txt"] = "not a manifest";
  fs.files["dir/.hidden.yaml"] = "ignored: true";
  fs.directories = {"dir", "dir/sub", "empty"};
  int stdin_reads = 0;
  const auto read_stdin = [&]() -> Result<std::string> {
    ++stdin_reads;
    return std::string(k_valid);
  };
  const auto inputs = read_manifest_inputs({"dir/", "-", "missing.yaml", "empty", "-"}, fs, read_stdin);
  REQUIRE(inputs.size() == 5);
  REQUIRE(inputs[0].sources.size() == 3);
  CHECK(inputs[0].sources[0].name == "dir/a.yml");
  CHECK(inputs[0].sources[1].name == "dir/b.yaml");
  CHECK(inputs[0].sources[2].name == "dir/c.json");
  CHECK(inputs[1].sources.at(0).name == "<stdin>");
  CHECK(stdin_reads == 1);
  REQUIRE(inputs[2].error.has_value());
  CHECK(inputs[2].error->code() == ErrorCode::config);
  CHECK(inputs[2].error->message() == "the path \"missing.yaml\" does not exist");
  CHECK(inputs[3].error->message() == "no manifests (*.yaml, *.yml, *.json) in directory \"empty\"");
  CHECK(inputs[4].error->message() == "standard input (-) can only be read once");
  CHECK(lines(validate_manifest_inputs(inputs)) ==
        std::vector<std::string>{"dir/a.yml: valid", "dir/b.yaml: valid", "dir/c.json: valid", "<stdin>: valid",
                                 "the path \"missing.yaml\" does not exist",
                                 "no manifests (*.yaml, *.yml, *.json) in directory \"empty\"",
                                 "standard input (-) can only be read once"});
}

TEST_CASE("the local file system reads files and lists directories") {
  const auto& fs = local_file_system();
  CHECK(fs.kind("packaging/kubernetes/base") == FileSystem::Kind::directory);
  CHECK(fs.kind("packaging/kubernetes/base/crd.yaml") == FileSystem::Kind::file);
  CHECK(fs.kind("no/such/path") == FileSystem::Kind::missing);
  CHECK(fs.read("packaging/kubernetes/base/crd.yaml")->find("gpuworkloads.gpuorch.io") != std::string::npos);
  const auto names = fs.list("packaging/kubernetes/base");
  REQUIRE(names.ok());
  CHECK(std::find(names->begin(), names->end(), "crd.yaml") != names->end());
  CHECK_FALSE(fs.read("no/such/file").ok());
}

}  // namespace gpuorch::model

namespace gpuorch::model {

TEST_CASE("mangled manifests never throw or crash the validator") {
  // Every truncation of a real manifest, and versions with bytes replaced by
  // YAML indicators, tabs, NUL and invalid UTF-8: each must end in results or
  // errors, never an exception.
  const std::string base = std::string(k_valid) +
                           "  resources: {cpu: \"8\", memory: 64Gi}\n  env:\n  - name: A\n    value: b\n---\n" +
                           k_valid;
  const char replacements[] = {':', '-', '[', '{', '"', '\'', '\t', '\0', '\xff', '#', '&', '*', '!', '|'};
  std::size_t runs = 0;
  for (std::size_t cut = 0; cut <= base.size(); ++cut) {
    CHECK_NOTHROW(validate_manifest_inputs({ManifestInput{"x", {{"x.yaml", base.substr(0, cut)}}, std::nullopt}}));
    ++runs;
  }
  for (std::size_t at = 0; at < base.size(); at += 3) {
    for (const char c : replacements) {
      std::string text = base;
      text[at] = c;
      CHECK_NOTHROW(validate_manifest_inputs({ManifestInput{"x", {{"x.yaml", text}, {"x.json", text}}, std::nullopt}}));
      ++runs;
    }
  }
  CHECK(runs > 1000);
  // Invalid UTF-8 in a field name is shown with U+FFFD, not thrown.
  CHECK(validate_text("u.yaml", std::string(k_valid) + "  gpu\xff: 1\n") ==
        std::vector<std::string>{"u.yaml:8:3: spec: unknown field \"gpu\xef\xbf\xbd\""});
}

}  // namespace gpuorch::model
