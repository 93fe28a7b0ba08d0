#include <chrono>
#include <thread>

#include <doctest/doctest.h>
#include <gpuorch/base/cancel.hpp>

namespace gpuorch {

using namespace std::chrono_literals;

TEST_CASE("a fresh token is not cancelled, cancel() is sticky and the first reason wins") {
  CancelToken token;
  CHECK_FALSE(token.cancelled());
  CHECK(token.reason() == 0);
  CHECK(token.check().ok());
  token.cancel(15);
  CHECK(token.cancelled());
  CHECK(token.reason() == 15);
  token.cancel(2);
  CHECK(token.reason() == 15);
  const auto status = token.check("reconcile pass");
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code() == ErrorCode::cancelled);
  CHECK(status.error().message() == "reconcile pass cancelled");
}

TEST_CASE("cancel() without a signal records k_requested") {
  CancelToken token;
  token.cancel();
  CHECK(token.reason() == CancelToken::k_requested);
  CancelToken zero;
  zero.cancel(0);  // 0 would read as "not cancelled"
  CHECK(zero.cancelled());
}

TEST_CASE("wait_for sleeps the full duration when nobody cancels") {
  CancelToken token;
  CHECK(token.wait_for(0ms));
  CHECK(token.wait_for(30ms));
}

TEST_CASE("wait_for returns false at once on a cancelled token") {
  CancelToken token;
  token.cancel();
  CHECK_FALSE(token.wait_for(std::chrono::hours(1)));
}

TEST_CASE("wait_for wakes up when another thread cancels") {
  CancelToken token;
  std::thread canceller([&token] {
    std::this_thread::sleep_for(20ms);
    token.cancel(2);
  });
  // An hour-long wait that must end soon after the cancellation; if it did
  // not, the test would hang and hit ctest's timeout.
  CHECK_FALSE(token.wait_for(std::chrono::hours(1)));
  canceller.join();
  CHECK(token.reason() == 2);
}

}  // namespace gpuorch
