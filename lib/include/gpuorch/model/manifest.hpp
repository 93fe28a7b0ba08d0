#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gpuorch/base/error.hpp>
#include <gpuorch/base/result.hpp>
#include <gpuorch/model/yaml.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::model {

/// The file system as the manifest loader sees it; tests use an in-memory fake.
class FileSystem {
 public:
  enum class Kind { missing, file, directory, other };
  virtual ~FileSystem() = default;
  [[nodiscard]] virtual Kind kind(const std::string& path) const = 0;
  [[nodiscard]] virtual Result<std::string> read(const std::string& path) const = 0;
  /// Names (not paths) of the entries of a directory, in any order.
  [[nodiscard]] virtual Result<std::vector<std::string>> list(const std::string& directory) const = 0;
};

/// The real file system (std::filesystem and ifstream).
const FileSystem& local_file_system();

/// Name that stands for standard input in messages.
inline constexpr std::string_view k_stdin_name = "<stdin>";

/// One input text and the name it is reported under.
struct ManifestSource {
  std::string name;
  std::string text;
};

/// What one `-f` argument produced: sources, or the reason it produced none.
struct ManifestInput {
  std::string argument;
  std::vector<ManifestSource> sources;
  std::optional<Error> error;
};

/// Expands `-f` arguments like kubectl: a file; a directory's *.yaml, *.yml and
/// *.json files (sorted by name, not recursive); "-" for standard input (read
/// once through `read_stdin`). A missing path or a directory without manifests
/// yields an ErrorCode::config error for that argument; the others still load.
std::vector<ManifestInput> read_manifest_inputs(const std::vector<std::string>& arguments, const FileSystem& fs,
                                                const std::function<Result<std::string>()>& read_stdin);

/// One object of a manifest source. Items of a `kind: List` are separate documents.
struct ManifestDocument {
  std::string source;     ///< the source's name
  std::size_t index = 0;  ///< position among the source's documents (0-based)
  SourcePosition start;   ///< where the object starts in the source
  nlohmann::json value;
  /// Positions of the whole parsed YAML document; `base` locates `value` inside it.
  std::shared_ptr<const SourceMap> positions;
  nlohmann::json::json_pointer base;

  /// "job.yaml:7:13" for a pointer into `value` (the nearest known position).
  [[nodiscard]] std::string locate(const nlohmann::json::json_pointer& pointer, bool key) const;
};

/// Parses a source as a YAML stream (JSON included). *.json sources and input
/// starting with '{' or '[' are checked as strict JSON first, so JSON syntax
/// errors read as JSON errors. Fails (ErrorCode::invalid, one cause located
/// "file:line:column") on malformed input.
Result<std::vector<ManifestDocument>> parse_manifest(const ManifestSource& source);

/// The outcome of validating one document.
struct ManifestResult {
  std::string source;
  std::size_t index = 0;
  std::size_t documents_in_source = 1;
  SourcePosition start;
  std::string kind;
  std::string name;
  /// Every problem, located "file:line:column" and ordered by position.
  std::vector<FieldCause> causes;
  /// The input could not be read at all (missing path, empty directory):
  /// `source` is the argument and the one cause has no location.
  bool input_error = false;
  [[nodiscard]] bool valid() const { return causes.empty(); }
};

/// Validates one document as a GPUWorkload (strict: unknown fields are errors).
ManifestResult validate_manifest(const ManifestDocument& document, std::size_t documents_in_source = 1);

/// Loads and validates every input: one result per document, plus one result
/// with a single cause per unreadable input or malformed source.
std::vector<ManifestResult> validate_manifest_inputs(const std::vector<ManifestInput>& inputs);

}  // namespace gpuorch::model
