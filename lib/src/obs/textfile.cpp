#include <gpuorch/obs/textfile.hpp>

#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gpuorch::obs {

namespace {

Error io_error(std::string_view what, const std::string& path, int err) {
  return Error(ErrorCode::io, std::string(what) + " " + path + ": " + std::strerror(err));
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

/// Closes the descriptor and removes the temporary file unless released.
class TempFile {
 public:
  TempFile(int fd, std::string path) : m_fd(fd), m_path(std::move(path)) {}
  ~TempFile() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    if (!m_path.empty()) {
      ::unlink(m_path.c_str());
    }
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  [[nodiscard]] int fd() const { return m_fd; }
  [[nodiscard]] const std::string& path() const { return m_path; }
  int close() {
    const int rc = ::close(m_fd);
    m_fd = -1;
    return rc;
  }
  void keep() { m_path.clear(); }

 private:
  int m_fd;
  std::string m_path;
};

}  // namespace

Status write_file_atomically(const std::string& path, std::string_view content) {
  if (path.empty()) {
    return Error(ErrorCode::usage, "the metrics file path is empty");
  }
  if (path.back() == '/') {
    return Error(ErrorCode::usage, "the metrics file path " + path + " names a directory");
  }
  std::string pattern = path + ".XXXXXX";
  const int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
  if (fd < 0) {
    return io_error("creating a temporary file beside", path, errno);
  }
  TempFile temp(fd, pattern);
  // mkstemp creates 0600; the collector often runs as another user.
  if (::fchmod(temp.fd(), 0644) != 0) {
    return io_error("setting the mode of", temp.path(), errno);
  }
  std::size_t written = 0;
  while (written < content.size()) {
    const auto n = ::write(temp.fd(), content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return io_error("writing", temp.path(), errno);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(temp.fd()) != 0) {
    return io_error("syncing", temp.path(), errno);
  }
  if (temp.close() != 0) {
    return io_error("closing", temp.path(), errno);
  }
  if (::rename(temp.path().c_str(), path.c_str()) != 0) {
    return io_error("renaming " + temp.path() + " to", path, errno);
  }
  temp.keep();
  // Persist the rename itself. Some file systems refuse fsync on a directory
  // (EINVAL); the file is in place either way.
  const std::string dir = directory_of(path);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    const int rc = ::fsync(dir_fd);
    const int err = errno;
    ::close(dir_fd);
    if (rc != 0 && err != EINVAL) {
      return io_error("syncing directory", dir, err);
    }
  }
  return {};
}

Status write_textfile(const std::string& path, const Registry& registry) {
  return write_file_atomically(path, registry.expose());
}

}  // namespace gpuorch::obs
