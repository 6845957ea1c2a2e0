// Polling for tests against a real server: the server acts on cancels, closes and
// subscriptions asynchronously, and a sanitized build is slow.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace dflockd::testing {

/// Polls `condition` until it holds or `limit` passes; returns its last value.
inline bool Eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

}  // namespace dflockd::testing
