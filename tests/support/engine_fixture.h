// Drives a real Engine with a hand-moved clock and records what it reports.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/engine.h"

namespace dflockd::testing {

class FakeClock final : public core::Clock {
 public:
  core::TimePoint Now() const override {
    ++reads;
    return now_;
  }
  void Advance(core::Duration d) { now_ += d; }

  mutable int reads = 0;  ///< how often the engine asked

 private:
  core::TimePoint now_{std::chrono::hours(1)};
};

/// A session sink that records pushes and can pretend its queue is full.
class RecordingSink final : public core::SessionSink {
 public:
  bool Push(std::string_view channel, std::string_view payload) override {
    if (full) return false;
    pushes.emplace_back(std::string(channel), std::string(payload));
    return true;
  }
  void Evicted() override { evicted = true; }

  std::vector<std::pair<std::string, std::string>> pushes;
  bool full = false;
  bool evicted = false;
};

/// The eventual result of one submitted command.
struct Pending {
  std::optional<core::Result<core::Reply>> result;
  core::RequestId id = core::kNoRequest;
  bool done() const { return result.has_value(); }
  bool ok() const { return done() && result->ok(); }
  core::ErrorCode error() const { return result->error(); }
  template <typename T>
  const T& as() const {
    return std::get<T>(result->value());
  }
};

class EngineFixture : public ::testing::Test {
 protected:
  void SetUp() override { Rebuild(); }

  /// Recreate the engine after changing `config`.
  void Rebuild() {
    engine.reset();
    engine = std::make_unique<core::Engine>(config, clock, tokens);
  }

  core::SessionId Open(core::SessionSink* sink = nullptr) { return engine->OpenSession(sink); }

  std::shared_ptr<Pending> Submit(core::SessionId s, core::Command c) {
    auto p = std::make_shared<Pending>();
    p->id = engine->Submit(s, std::move(c), [p](core::Result<core::Reply> r) {
      EXPECT_FALSE(p->result.has_value()) << "completion ran twice";
      p->result.emplace(std::move(r));
    });
    return p;
  }

  std::shared_ptr<Pending> Lock(core::SessionId s, const std::string& key, std::int64_t timeout = 0,
                                std::optional<std::int64_t> lease = std::nullopt) {
    core::Acquire a;
    a.key = key;
    a.timeout_s = timeout;
    a.lease_s = lease;
    return Submit(s, a);
  }

  std::shared_ptr<Pending> Sem(core::SessionId s, const std::string& key, std::uint32_t limit,
                               std::int64_t timeout = 0,
                               std::optional<std::int64_t> lease = std::nullopt) {
    core::Acquire a;
    a.ns = core::Namespace::kSemaphore;
    a.key = key;
    a.timeout_s = timeout;
    a.limit = limit;
    a.lease_s = lease;
    return Submit(s, a);
  }

  std::shared_ptr<Pending> Release(core::SessionId s, const std::string& key, core::TokenArg token,
                                   core::Namespace ns = core::Namespace::kLock) {
    core::Release r;
    r.ns = ns;
    r.key = key;
    r.token = token;
    return Submit(s, r);
  }
  /// As a client's text: adapters parse it, so text that is no token arrives empty.
  std::shared_ptr<Pending> Release(core::SessionId s, const std::string& key,
                                   std::string_view token_text,
                                   core::Namespace ns = core::Namespace::kLock) {
    return Release(s, key, core::ParseToken(token_text), ns);
  }

  std::shared_ptr<Pending> Renew(core::SessionId s, const std::string& key, core::TokenArg token,
                                 std::optional<std::int64_t> lease = std::nullopt) {
    core::Renew r;
    r.key = key;
    r.token = token;
    r.lease_s = lease;
    return Submit(s, r);
  }
  std::shared_ptr<Pending> Renew(core::SessionId s, const std::string& key,
                                 std::string_view token_text,
                                 std::optional<std::int64_t> lease = std::nullopt) {
    return Renew(s, key, core::ParseToken(token_text), lease);
  }

  std::shared_ptr<Pending> Enqueue(core::SessionId s, const std::string& key,
                                   std::optional<std::int64_t> lease = std::nullopt) {
    core::Enqueue e;
    e.key = key;
    e.lease_s = lease;
    return Submit(s, e);
  }

  std::shared_ptr<Pending> WaitFor(core::SessionId s, const std::string& key, std::int64_t timeout) {
    core::Wait w;
    w.key = key;
    w.timeout_s = timeout;
    return Submit(s, w);
  }

  /// Move time forward and let the engine act on it.
  void Advance(core::Duration d) {
    clock.Advance(d);
    engine->Tick();
  }
  void AdvanceSeconds(double s) {
    Advance(std::chrono::duration_cast<core::Duration>(std::chrono::duration<double>(s)));
  }

  FakeClock clock;
  core::TokenSource tokens{1000};
  core::EngineConfig config;
  std::unique_ptr<core::Engine> engine;
};

}  // namespace dflockd::testing
