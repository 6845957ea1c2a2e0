#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <type_traits>
#include <variant>

#include "core/clock.h"
#include "core/token_source.h"

namespace dflockd::metrics {
namespace {

using namespace std::chrono_literals;

class RegistryTest : public ::testing::Test {
 protected:
  /// The exposition's line that starts with `prefix`, without it; empty if none.
  std::string Value(const std::string& prefix) {
    const std::string text = registry.Render(engine);
    const auto at = text.find(prefix);
    if (at == std::string::npos) return {};
    const auto end = text.find('\n', at);
    return text.substr(at + prefix.size(), end - at - prefix.size());
  }

  core::SteadyClock clock;
  core::TokenSource tokens{1};
  core::Engine engine{core::EngineConfig{}, clock, tokens};
  Registry registry;
};

constexpr std::size_t kPing = 8;  // core::Command's index of Ping
static_assert(std::is_same_v<std::variant_alternative_t<kPing, core::Command>, core::Ping>);

TEST_F(RegistryTest, BucketBoundsAreInclusiveAndSumIsInSeconds) {
  const std::string bucket =
      "dflockd_request_duration_seconds_bucket{transport=\"native\",command=\"ping\",le=";
  registry.ObserveLatency(Transport::kNative, kPing, 100us);       // le 0.0001: equal counts
  registry.ObserveLatency(Transport::kNative, kPing, 100001ns);    // just above: next bucket
  registry.ObserveLatency(Transport::kNative, kPing, 250us, 2);    // two at le 0.00025
  registry.ObserveLatency(Transport::kNative, kPing, 11s);         // beyond the last bound
  EXPECT_EQ(Value(bucket + "\"0.0001\"} "), "1");
  EXPECT_EQ(Value(bucket + "\"0.00025\"} "), "4");
  EXPECT_EQ(Value(bucket + "\"10\"} "), "4");
  EXPECT_EQ(Value(bucket + "\"+Inf\"} "), "5");
  EXPECT_EQ(Value("dflockd_request_duration_seconds_count{transport=\"native\",command=\"ping\"} "),
            "5");
  // 0.0001 + 0.000100001 + 2 * 0.00025 + 11, to the exposition's nine digits
  EXPECT_EQ(Value("dflockd_request_duration_seconds_sum{transport=\"native\",command=\"ping\"} "),
            "11.0007");
}

}  // namespace
}  // namespace dflockd::metrics
