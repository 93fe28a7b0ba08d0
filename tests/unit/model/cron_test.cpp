#include <gpuorch/model/cron.hpp>

#include <doctest/doctest.h>

using gpuorch::model::cron_schedule_error;

TEST_CASE("cron schedules the CronJob API accepts are valid") {
  for (const char* ok : {"*/5 * * * *", "* * * * *", "0 0 * * SUN", "@hourly", "@every 90s", "0 9-17 * JAN-MAR MON-FRI",
                         "15,45 */2 1 * 0-6", "0 0 ? * *", "59 23 31 12 7"}) {
    CHECK_MESSAGE(cron_schedule_error(ok).empty(), ok);
  }
}

TEST_CASE("invalid cron schedules are rejected with the API server's reason") {
  CHECK(cron_schedule_error("*/5 * * *") == "expected exactly 5 fields, found 4: */5 * * *");
  CHECK(cron_schedule_error("") == "expected exactly 5 fields, found 0: ");
  CHECK(cron_schedule_error("60 * * * *") == "failed to parse \"60\" in \"60\"");
  CHECK(cron_schedule_error("* 24 * * *") == "failed to parse \"24\" in \"24\"");
  CHECK(cron_schedule_error("*/0 * * * *") == "invalid step in \"*/0\"");
  CHECK(cron_schedule_error("5-1 * * * *") == "failed to parse \"5-1\" in \"5-1\"");
  CHECK(cron_schedule_error("* * * FOO *") == "failed to parse \"FOO\" in \"FOO\"");
  CHECK(cron_schedule_error("@often") == "unrecognized descriptor: @often");
  CHECK(cron_schedule_error("CRON_TZ=UTC * * * * *") ==
        "cannot use TZ or CRON_TZ in schedule, use timeZone field instead");
}
