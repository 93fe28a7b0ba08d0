#include <gpuorch/obs/textfile.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <sys/stat.h>

#include <doctest/doctest.h>

#include "support/process.hpp"

using namespace gpuorch::obs;
using gpuorch::testing::TempDir;

namespace {

std::string slurp(const std::filesystem::path& path) {
  return gpuorch::testing::read_file(path.string());
}

}  // namespace

TEST_CASE("textfile: written whole - world-readable - no temporary file left behind") {
  TempDir dir;
  Registry registry;
  registry.counter("demo_total", "Demo.").get().inc(5);
  const auto path = (dir.path() / "gpuorch.prom").string();
  REQUIRE(write_textfile(path, registry).ok());
  CHECK(slurp(path) == "# HELP demo_total Demo.\n# TYPE demo_total counter\ndemo_total 5\n");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);

  // Replacing keeps one file: the old content is gone, nothing else appears.
  registry.gauge("demo_up", "Up.").get().set(1);
  REQUIRE(write_textfile(path, registry).ok());
  CHECK(slurp(path).find("demo_up 1\n") != std::string::npos);
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++files;
  }
  CHECK(files == 1);
}

TEST_CASE("textfile: a reader never sees a partial file while writes replace it") {
  TempDir dir;
  const auto path = (dir.path() / "big.prom").string();
  const std::string a(200000, 'a');
  const std::string b(300000, 'b');
  REQUIRE(write_file_atomically(path, a).ok());
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!done) {
      const auto text = slurp(path);
      if (text != a && text != b) {
        ++torn;
      }
    }
  });
  for (int i = 0; i < 50; ++i) {
    REQUIRE(write_file_atomically(path, i % 2 == 0 ? b : a).ok());
  }
  done = true;
  reader.join();
  CHECK(torn == 0);
}

TEST_CASE("textfile: errors name the path and leave nothing behind") {
  TempDir dir;
  const auto missing = (dir.path() / "no-such-dir" / "x.prom").string();
  auto status = write_file_atomically(missing, "x 1\n");
  REQUIRE(!status.ok());
  CHECK(status.error().code() == gpuorch::ErrorCode::io);
  CHECK(status.error().message().find(missing) != std::string::npos);

  // The target is a directory: rename fails, the temporary file is removed.
  std::filesystem::create_directory(dir.path() / "taken.prom");
  std::ofstream(dir.path() / "taken.prom" / "inside") << "keep";
  const auto onto_dir = (dir.path() / "taken.prom").string();
  status = write_file_atomically(onto_dir, "x 1\n");
  REQUIRE(!status.ok());
  CHECK(status.error().message().find(onto_dir) != std::string::npos);
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++files;
  }
  CHECK(files == 1);

  CHECK(write_file_atomically("", "x").error().code() == gpuorch::ErrorCode::usage);
}
