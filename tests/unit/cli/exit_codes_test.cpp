#include <sstream>

#include <doctest/doctest.h>

#include "exit_codes.hpp"
#include "program_name.hpp"

namespace gpuorch::cli {

TEST_CASE("every error category maps to a documented exit code") {
  CHECK(exit_code_for(Error(ErrorCode::usage, "")) == 2);
  CHECK(exit_code_for(Error(ErrorCode::invalid, "")) == 2);
  CHECK(exit_code_for(Error(ErrorCode::config, "")) == 2);
  CHECK(exit_code_for(Error(ErrorCode::timeout, "")) == 4);
  CHECK(exit_code_for(Error(ErrorCode::cancelled, "")) == 130);
  for (auto code : {ErrorCode::auth, ErrorCode::transport, ErrorCode::api, ErrorCode::conflict, ErrorCode::not_found,
                    ErrorCode::io, ErrorCode::internal}) {
    CAPTURE(to_string(code));
    CHECK(exit_code_for(Error(code, "")) == 1);
  }
}

TEST_CASE("errors print like kubectl") {
  std::ostringstream out;
  print_error(out, Error(ErrorCode::not_found, "gpuworkloads.gpuorch.io \"x\" not found").with_http(404, "NotFound"));
  CHECK(out.str() == "Error from server (NotFound): gpuworkloads.gpuorch.io \"x\" not found\n");

  std::ostringstream local;
  print_error(local, Error(ErrorCode::invalid, "job.yaml is invalid")
                         .with_causes({{"spec.gpuCount", "must be >= 1, got 0", "job.yaml:7:13", ""}}));
  CHECK(local.str() == "error: job.yaml is invalid\njob.yaml:7:13: spec.gpuCount: must be >= 1, got 0\n");

  // StatusReasonUnknown (""): kubectl prints no reason.
  std::ostringstream unknown;
  print_error(unknown, Error(ErrorCode::api, "I'm a teapot").with_http(418, ""));
  CHECK(unknown.str() == "Error from server: I'm a teapot\n");
}

TEST_CASE("the kubectl plugin name changes the program name") {
  CHECK(program_name_for("/usr/bin/kubectl-gpuorch") == "kubectl gpuorch");
  CHECK(program_name_for("kubectl-gpuorch") == "kubectl gpuorch");
  CHECK(program_name_for("/usr/local/bin/gpuorch") == "gpuorch");
  CHECK(program_name_for("./build/dev/cli/gpuorch") == "gpuorch");
}

}  // namespace gpuorch::cli
