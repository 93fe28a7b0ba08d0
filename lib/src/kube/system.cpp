#include <gpuorch/kube/system.hpp>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gpuorch::kube {

Environment Environment::from_envp(const char* const* envp) {
  Environment env;
  for (; envp != nullptr && *envp != nullptr; ++envp) {
    std::string_view entry(*envp);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      continue;
    }
    // The first definition wins, as getenv would return it.
    env.m_vars.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

std::optional<std::string> Environment::get(std::string_view name) const {
  if (auto it = m_vars.find(name); it != m_vars.end()) {
    return it->second;
  }
  return std::nullopt;
}

Result<std::string> RealFileSystem::read_file(const std::string& path) const {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return Error(ErrorCode::io, fmt::format("open {}: {}", path, std::strerror(err)));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    return Error(ErrorCode::io, fmt::format("read {}: I/O error", path));
  }
  return buffer.str();
}

bool RealFileSystem::is_regular_file(const std::string& path) const {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string RealFileSystem::current_directory() const {
  std::string buffer(4096, '\0');
  if (::getcwd(buffer.data(), buffer.size()) == nullptr) {
    return "/";
  }
  buffer.resize(std::strlen(buffer.c_str()));
  return buffer;
}

bool SystemClock::sleep_for(std::chrono::nanoseconds duration, std::stop_token stop) {
  if (duration <= std::chrono::nanoseconds::zero()) {
    return !stop.stop_requested();
  }
  std::mutex mutex;
  std::condition_variable_any cv;
  std::unique_lock lock(mutex);
  return !cv.wait_for(lock, stop, duration, [] { return false; }) && !stop.stop_requested();
}

bool is_absolute_path(std::string_view path) {
  return !path.empty() && path.front() == '/';
}

std::string clean_path(std::string_view path) {
  if (path.empty()) {
    return ".";
  }
  const bool rooted = path.front() == '/';
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    auto next = path.find('/', pos);
    if (next == std::string_view::npos) {
      next = path.size();
    }
    auto part = path.substr(pos, next - pos);
    if (part.empty() || part == ".") {
      // skip
    } else if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(part);
      }
    } else {
      parts.push_back(part);
    }
    pos = next + 1;
  }
  std::string out = rooted ? "/" : "";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) {
      out += '/';
    }
    out += parts[i];
  }
  if (out.empty()) {
    return ".";
  }
  return out;
}

std::string join_path(std::string_view dir, std::string_view path) {
  if (dir.empty()) {
    return clean_path(path);
  }
  if (path.empty()) {
    return clean_path(dir);
  }
  std::string joined(dir);
  joined += '/';
  joined += path;
  return clean_path(joined);
}

std::string dir_name(std::string_view path) {
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos) {
    return ".";
  }
  return clean_path(path.substr(0, slash + 1));
}

}  // namespace gpuorch::kube
