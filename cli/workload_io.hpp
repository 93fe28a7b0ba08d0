#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace gpuorch::cli {

/// kubectl's resource/name form: "gpuworkload.gpuorch.io/llama".
std::string object_reference(std::string_view name);

/// kubectl's quoted form in messages: `gpuworkload.gpuorch.io "llama"`.
std::string quoted_reference(std::string_view name);

/// " (dry run)" for client, " (server dry run)" for server, "" otherwise.
std::string_view dry_run_suffix(std::string_view dry_run);

/// Prints objects as kubectl -o json|yaml does: one object alone when
/// `single`, else a `kind: List` (JSON indented by 4).
void print_objects(std::ostream& out, const std::vector<nlohmann::json>& objects, std::string_view format, bool single);

}  // namespace gpuorch::cli
