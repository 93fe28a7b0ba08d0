#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include <gpuorch/model/manifest.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::cli {

struct Context;

/// kubectl's resource/name form: "gpuworkload.gpuorch.io/llama".
std::string object_reference(std::string_view name);

/// kubectl's quoted form in messages: `gpuworkload.gpuorch.io "llama"`.
std::string quoted_reference(std::string_view name);

/// " (dry run)" for client, " (server dry run)" for server, "" otherwise.
std::string_view dry_run_suffix(std::string_view dry_run);

/// Prints objects as kubectl -o json|yaml does: one object alone when
/// `single`, else a `kind: List` (JSON indented by 4); without
/// `metadata.managedFields` unless `show_managed_fields` (kubectl's
/// --show-managed-fields).
void print_objects(std::ostream& out, const std::vector<nlohmann::json>& objects, std::string_view format, bool single,
                   bool show_managed_fields = false);

/// Reads -f inputs (files, directories, "-" for ctx's standard input), parses
/// each source and calls on_document(document, documents in its source) for
/// every document. Unreadable inputs and parse errors go to ctx.io.err; false
/// when there was any.
bool for_each_manifest_document(Context& ctx, const std::vector<std::string>& filenames,
                                const std::function<void(const model::ManifestDocument&, std::size_t)>& on_document);

}  // namespace gpuorch::cli
