#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <gpuorch/sandbox/store.hpp>
#include <gpuorch/sandbox/tls.hpp>

namespace gpuorch::sandbox {

/// `--data FILE`: a snapshot (FILE, JSON, replaced atomically) plus a journal
/// (FILE.journal, one JSON line per change, synced before the change is
/// acknowledged). Opening loads both into the store and compacts them.
class FileJournal : public Journal {
 public:
  explicit FileJournal(std::string path);
  ~FileJournal() override;
  FileJournal(const FileJournal&) = delete;
  FileJournal& operator=(const FileJournal&) = delete;

  /// Loads the snapshot and replays the journal into `store` (nothing when
  /// the files do not exist), writes a fresh snapshot and starts a new
  /// journal. Returns whether there was saved state.
  Result<bool> open(Store& store);
  /// Writes a snapshot of `store` and empties the journal (clean shutdown).
  Status compact(const Store& store);

  Status record(std::uint64_t resource_version, const std::string& bucket, const std::string& key,
                const nlohmann::json* object) override;

 private:
  Status write_snapshot(const nlohmann::json& state);
  Status open_journal(bool truncate);

  std::string m_path;
  int m_fd = -1;
};

/// What a client's kubeconfig depends on, kept with `--data FILE` in
/// FILE.credentials (mode 0600) so that a restarted sandbox serves the same
/// kubeconfig: the CA and serving certificate, the token and the port.
struct Credentials {
  TlsMaterial tls;  ///< empty with --insecure-http
  std::string token;
  int port = 0;
  std::vector<std::string> hosts;  ///< the serving certificate's names
};

/// FILE.credentials for data file FILE.
std::string credentials_path(const std::string& data_file);
/// The saved credentials, or nullopt when there are none yet.
Result<std::optional<Credentials>> load_credentials(const std::string& data_file);
/// Saves them durably (temporary file, sync, rename), readable by the owner only.
Status save_credentials(const std::string& data_file, const Credentials& credentials);

}  // namespace gpuorch::sandbox
