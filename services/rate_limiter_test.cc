// Tests of the failure limiter that keeps paystub codes from being guessed
// (DESIGN section 8: failed lookups are limited per source address), on a
// fake clock, and of how a gRPC peer becomes a source address.
#include "services/rate_limiter.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/testing/ledger_testing.h"

namespace premium {
namespace {

using ::premium::testing::FakeClock;
using ::premium::testing::IsOk;
using ::premium::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

FailureLimitOptions Options(const FakeClock& clock) {
  FailureLimitOptions options;
  options.clock = clock.AsFunction();
  return options;
}

void Fail(FailureLimiter& limiter, absl::string_view source, int times) {
  for (int i = 0; i < times; ++i) limiter.RecordFailure(source);
}

TEST(FailureLimiterTest, DefaultsAreTenPerMinute) {
  const FailureLimitOptions defaults;
  EXPECT_EQ(defaults.failures_per_window, 10);
  EXPECT_EQ(defaults.window, absl::Minutes(1));
  EXPECT_EQ(defaults.sources_max, 100'000u);
}

TEST(FailureLimiterTest, TenFailuresThenExhaustedWithARetryTime) {
  FakeClock clock;
  FailureLimiter limiter(Options(clock));
  const std::string source = "ipv4:10.0.0.7";
  EXPECT_THAT(limiter.Check(source), IsOk());
  for (int i = 0; i < 9; ++i) {
    limiter.RecordFailure(source);
    EXPECT_THAT(limiter.Check(source), IsOk()) << "after " << i + 1;
  }
  limiter.RecordFailure(source);
  EXPECT_THAT(limiter.Check(source),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       AllOf(HasSubstr("too many failed lookups"),
                             HasSubstr("try again in 60 s"))));
  // The retry time counts down from the window's first failure, rounded
  // up to whole seconds.
  clock.Advance(absl::Seconds(20));
  EXPECT_THAT(limiter.Check(source),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("try again in 40 s")));
  clock.Advance(absl::Milliseconds(39'500));
  EXPECT_THAT(limiter.Check(source),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("try again in 1 s")));
  // Further failures while limited do not extend the window.
  Fail(limiter, source, 5);
  clock.Advance(absl::Milliseconds(500));
  EXPECT_THAT(limiter.Check(source), IsOk());
}

TEST(FailureLimiterTest, AfterTheWindowANewWindowStarts) {
  FakeClock clock;
  FailureLimiter limiter(Options(clock));
  const std::string source = "ipv4:10.0.0.7";
  Fail(limiter, source, 10);
  EXPECT_THAT(limiter.Check(source),
              StatusIs(absl::StatusCode::kResourceExhausted));
  clock.Advance(absl::Seconds(59));
  EXPECT_THAT(limiter.Check(source),
              StatusIs(absl::StatusCode::kResourceExhausted));
  clock.Advance(absl::Seconds(1));
  EXPECT_THAT(limiter.Check(source), IsOk());
  // The new window counts from zero: nine more failures are allowed, the
  // tenth is not.
  Fail(limiter, source, 9);
  EXPECT_THAT(limiter.Check(source), IsOk());
  limiter.RecordFailure(source);
  EXPECT_THAT(limiter.Check(source),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("try again in 60 s")));
}

TEST(FailureLimiterTest, FailuresSpreadOverWindowsNeverAddUp) {
  FakeClock clock;
  FailureLimiter limiter(Options(clock));
  // Nine failures a minute, for an hour: never limited.
  for (int minute = 0; minute < 60; ++minute) {
    Fail(limiter, "ipv4:10.0.0.7", 9);
    EXPECT_THAT(limiter.Check("ipv4:10.0.0.7"), IsOk()) << minute;
    clock.Advance(absl::Minutes(1));
  }
}

TEST(FailureLimiterTest, SourcesAreIndependent) {
  FakeClock clock;
  FailureLimiter limiter(Options(clock));
  Fail(limiter, "ipv4:10.0.0.7", 10);
  Fail(limiter, "ipv4:10.0.0.8", 9);
  EXPECT_THAT(limiter.Check("ipv4:10.0.0.7"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(limiter.Check("ipv4:10.0.0.8"), IsOk());
  EXPECT_THAT(limiter.Check("ipv4:10.0.0.9"), IsOk());
  EXPECT_THAT(limiter.Check("ipv6:[::1]"), IsOk());
  // Source names are exact.
  EXPECT_THAT(limiter.Check("ipv4:10.0.0.70"), IsOk());
  EXPECT_THAT(limiter.Check("ipv4:10.0.0."), IsOk());
}

TEST(FailureLimiterTest, OptionsAreHonoured) {
  FakeClock clock;
  FailureLimitOptions options = Options(clock);
  options.failures_per_window = 3;
  options.window = absl::Seconds(10);
  FailureLimiter limiter(options);
  Fail(limiter, "a", 2);
  EXPECT_THAT(limiter.Check("a"), IsOk());
  limiter.RecordFailure("a");
  EXPECT_THAT(limiter.Check("a"), StatusIs(absl::StatusCode::kResourceExhausted,
                                           HasSubstr("try again in 10 s")));
  clock.Advance(absl::Seconds(10));
  EXPECT_THAT(limiter.Check("a"), IsOk());
}

TEST(FailureLimiterTest, SourcesMaxBoundsMemoryDroppingExpiredFirst) {
  FakeClock clock;
  FailureLimitOptions options = Options(clock);
  options.sources_max = 2;
  FailureLimiter limiter(options);
  // "a" at 0 s and "b" at 30 s fill the table.
  Fail(limiter, "a", 10);
  clock.Advance(absl::Seconds(30));
  Fail(limiter, "b", 10);
  // At 61 s "a" has expired: "c" takes its place and is limited, "b" is
  // untouched.
  clock.Advance(absl::Seconds(31));
  Fail(limiter, "c", 10);
  EXPECT_THAT(limiter.Check("c"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(limiter.Check("b"), StatusIs(absl::StatusCode::kResourceExhausted,
                                           HasSubstr("try again in 29 s")));
  EXPECT_THAT(limiter.Check("a"), IsOk());
}

TEST(FailureLimiterTest, AFullTableMakesRoomForANewSource) {
  FakeClock clock;
  FailureLimitOptions options = Options(clock);
  options.sources_max = 2;
  FailureLimiter limiter(options);
  Fail(limiter, "a", 10);
  clock.Advance(absl::Seconds(10));
  Fail(limiter, "b", 10);
  clock.Advance(absl::Seconds(10));
  // Both windows run: the oldest ("a") makes room, so "c" is limited too
  // (a new source is never unlimited).
  Fail(limiter, "c", 10);
  EXPECT_THAT(limiter.Check("c"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(limiter.Check("b"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(limiter.Check("a"), IsOk());
  // A restarted window moves its source to the back of the line.
  clock.Advance(absl::Minutes(1));
  Fail(limiter, "b", 1);   // b restarts
  Fail(limiter, "d", 10);  // c expired: it goes
  Fail(limiter, "e", 10);  // table full of live b, d: b is the oldest
  EXPECT_THAT(limiter.Check("d"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(limiter.Check("e"),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(FailureLimiterTest, ManySourcesStayWithinTheBound) {
  FakeClock clock;
  FailureLimitOptions options = Options(clock);
  options.sources_max = 1000;
  FailureLimiter limiter(options);
  // 5000 sources in one window: every one is limited when it fails, and
  // the table keeps the newest 1000.
  for (int i = 0; i < 5000; ++i) {
    Fail(limiter, absl::StrCat("s", i), 10);
    ASSERT_THAT(limiter.Check(absl::StrCat("s", i)),
                StatusIs(absl::StatusCode::kResourceExhausted));
  }
  EXPECT_THAT(limiter.Check("s0"), IsOk());
  EXPECT_THAT(limiter.Check("s3999"), IsOk());
  EXPECT_THAT(limiter.Check("s4000"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(limiter.Check("s4999"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  // Restarting windows over and over does not grow the bookkeeping without
  // bound (checked by the sanitizer builds and the rebuild path).
  for (int round = 0; round < 5; ++round) {
    clock.Advance(absl::Minutes(1));
    for (int i = 4000; i < 5000; ++i) Fail(limiter, absl::StrCat("s", i), 1);
  }
  clock.Advance(absl::Minutes(1));
  Fail(limiter, "late", 10);
  EXPECT_THAT(limiter.Check("late"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(limiter.Check("s4999"), IsOk());
}

TEST(FailureLimiterTest, ConcurrentFailuresAreAllCounted) {
  FakeClock clock;
  FailureLimitOptions options = Options(clock);
  constexpr int kThreads = 8;
  constexpr int kFailuresPerThread = 250;
  options.failures_per_window = kThreads * kFailuresPerThread + 1;
  FailureLimiter limiter(options);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&limiter, t] {
      for (int i = 0; i < kFailuresPerThread; ++i) {
        limiter.RecordFailure("shared");
        limiter.RecordFailure(absl::StrCat("own-", t));
        (void)limiter.Check("shared");
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  // 2000 failures: one short of the limit.
  EXPECT_THAT(limiter.Check("shared"), IsOk());
  limiter.RecordFailure("shared");
  EXPECT_THAT(limiter.Check("shared"),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(PeerAddressTest, DropsThePort) {
  EXPECT_EQ(PeerAddress("ipv4:127.0.0.1:5555"), "ipv4:127.0.0.1");
  EXPECT_EQ(PeerAddress("ipv4:10.0.0.7:1"), "ipv4:10.0.0.7");
  // Two connections of one client count as one source.
  EXPECT_EQ(PeerAddress("ipv4:10.0.0.7:40001"),
            PeerAddress("ipv4:10.0.0.7:40002"));
  EXPECT_NE(PeerAddress("ipv4:10.0.0.7:40001"),
            PeerAddress("ipv4:10.0.0.8:40001"));
}

TEST(PeerAddressTest, Ipv6KeepsItsBrackets) {
  EXPECT_EQ(PeerAddress("ipv6:[::1]:80"), "ipv6:[::1]");
  EXPECT_EQ(PeerAddress("ipv6:[2001:db8::7]:443"), "ipv6:[2001:db8::7]");
  EXPECT_EQ(PeerAddress("ipv6:[::ffff:10.0.0.7]:5555"),
            "ipv6:[::ffff:10.0.0.7]");
  // gRPC 1.51 percent-encodes the brackets.
  EXPECT_EQ(PeerAddress("ipv6:%5B::1%5D:80"), "ipv6:%5B::1%5D");
  EXPECT_EQ(PeerAddress("ipv6:%5B2001:db8::7%5D:443"),
            "ipv6:%5B2001:db8::7%5D");
}

TEST(PeerAddressTest, AddressesWithoutAPortAreKept) {
  EXPECT_EQ(PeerAddress("unix:/tmp/premium.sock"), "unix:/tmp/premium.sock");
  EXPECT_EQ(PeerAddress("unknown"), "unknown");
  EXPECT_EQ(PeerAddress(""), "");
}

}  // namespace
}  // namespace premium
