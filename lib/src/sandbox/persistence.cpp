#include <gpuorch/sandbox/persistence.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace gpuorch::sandbox {
namespace {

using nlohmann::json;

Error io_error(const std::string& what, const std::string& path) {
  return Error(ErrorCode::io, what + " " + path + ": " + std::strerror(errno));
}

Status write_all(int fd, const std::string& data, const std::string& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return io_error("writing", path);
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

// Writes `content` to `path` durably: a temporary file (mode 0600), synced,
// renamed over the old one, the directory synced.
Status replace_file(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return io_error("creating", tmp);
  }
  Status written = write_all(fd, content, tmp);
  if (written.ok() && ::fsync(fd) != 0) {
    written = io_error("syncing", tmp);
  }
  ::close(fd);
  GPUORCH_TRY(written);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return io_error("renaming to", path);
  }
  // Make the rename itself durable.
  const int dir = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return {};
}

}  // namespace

FileJournal::FileJournal(std::string path) : m_path(std::move(path)) {}

FileJournal::~FileJournal() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

Status FileJournal::write_snapshot(const json& state) {
  return replace_file(m_path, state.dump() + "\n");
}

Status FileJournal::open_journal(bool truncate) {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
  const std::string path = m_path + ".journal";
  m_fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0600);
  if (m_fd < 0) {
    return io_error("opening", path);
  }
  return {};
}

Result<bool> FileJournal::open(Store& store) {
  bool found = false;
  json state;
  {
    std::ifstream in(m_path);
    if (in) {
      std::stringstream buffer;
      buffer << in.rdbuf();
      state = json::parse(buffer.str(), nullptr, false);
      if (state.is_discarded()) {
        return Error(ErrorCode::config, "the sandbox data file " + m_path + " is not valid JSON");
      }
      found = true;
    }
  }
  if (!state.is_object()) {
    state = store.snapshot();
  }
  {
    std::ifstream journal(m_path + ".journal");
    std::string line;
    while (std::getline(journal, line)) {
      const json change = json::parse(line, nullptr, false);
      if (change.is_discarded() || !change.is_object()) {
        break;  // a torn last line: that write was never acknowledged
      }
      found = true;
      const std::string bucket = change.value("bucket", "");
      const std::string key = change.value("key", "");
      if (change.contains("object") && !change["object"].is_null()) {
        state["buckets"][bucket][key] = change["object"];
      } else if (state["buckets"].contains(bucket)) {
        state["buckets"][bucket].erase(key);
      }
      state["resourceVersion"] =
          std::max(state.value("resourceVersion", std::uint64_t{0}), change.value("resourceVersion", std::uint64_t{0}));
    }
  }
  if (found) {
    GPUORCH_TRY(store.restore(state));
  }
  GPUORCH_TRY(write_snapshot(store.snapshot()));
  GPUORCH_TRY(open_journal(true));
  return found;
}

Status FileJournal::compact(const Store& store) {
  GPUORCH_TRY(write_snapshot(store.snapshot()));
  return open_journal(true);
}

Status FileJournal::record(std::uint64_t resource_version, const std::string& bucket, const std::string& key,
                           const json* object) {
  if (m_fd < 0) {
    return Error(ErrorCode::io, "the sandbox journal is not open");
  }
  json change = {{"resourceVersion", resource_version}, {"bucket", bucket}, {"key", key}};
  change["object"] = object != nullptr ? *object : json(nullptr);
  GPUORCH_TRY(write_all(m_fd, change.dump() + "\n", m_path + ".journal"));
  if (::fdatasync(m_fd) != 0) {
    return io_error("syncing", m_path + ".journal");
  }
  return {};
}

std::string credentials_path(const std::string& data_file) {
  return data_file + ".credentials";
}

Result<std::optional<Credentials>> load_credentials(const std::string& data_file) {
  const std::string path = credentials_path(data_file);
  std::ifstream in(path);
  if (!in) {
    return std::optional<Credentials>();
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const json doc = json::parse(buffer.str(), nullptr, false);
  if (!doc.is_object()) {
    return Error(ErrorCode::config, "the sandbox credentials file " + path + " is not valid JSON");
  }
  Credentials c;
  c.token = doc.value("token", "");
  c.port = doc.value("port", 0);
  c.tls.ca_cert_pem = doc.value("caCertificate", "");
  c.tls.cert_pem = doc.value("servingCertificate", "");
  c.tls.key_pem = doc.value("servingKey", "");
  c.hosts = doc.value("hosts", std::vector<std::string>{});
  if (c.token.empty()) {
    return Error(ErrorCode::config, "the sandbox credentials file " + path + " has no token");
  }
  return std::optional<Credentials>(std::move(c));
}

Status save_credentials(const std::string& data_file, const Credentials& credentials) {
  const json doc = {{"token", credentials.token},
                    {"port", credentials.port},
                    {"caCertificate", credentials.tls.ca_cert_pem},
                    {"servingCertificate", credentials.tls.cert_pem},
                    {"servingKey", credentials.tls.key_pem},
                    {"hosts", credentials.hosts}};
  return replace_file(credentials_path(data_file), doc.dump(2) + "\n");
}

}  // namespace gpuorch::sandbox
