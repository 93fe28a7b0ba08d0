#pragma once

#include <cstdint>
#include <string>

#include <gpuorch/base/result.hpp>
#include <gpuorch/sandbox/store.hpp>

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

}  // namespace gpuorch::sandbox
