// Write-through of the engine's changes to etcd, batched and fenced (durable mode).
//
// The engine reports each change (core::Journal) on its thread; changes wait in
// order and go to etcd from worker threads, each write one Txn that puts one log entry
// (ha/records.h) holding as many waiting changes as it may (a key appears once: later
// changes of it replace earlier ones). etcd's cost is per Txn and per key, so a write
// waits briefly for the changes its clients are about to send (`batch_wait`: as many
// as the last commit answered), and a second write goes out alongside one in flight
// only when it is well filled. Up to `max_in_flight` writes are pipelined; etcd may
// apply them in any order, so a write never takes a key that one in flight has (the
// batch stops there and waits), which makes entries in flight commute. Every Txn
// compares the election key's create_revision with the term, so a deposed or paused
// leader can never commit; a write whose outcome is unknown (timeout) is resolved by
// reading its entry back. Committed entries are folded into the records now and then
// (ha/log_fold.h), which keeps the prefix bounded.
//
// Replies pass through Deliver(): a reply waits until every change recorded before it
// is committed, so nothing a client is told can be lost with the leader. When a write
// fails, the waiting replies fail and the owner steps down (on_failure).
//
// Threading: everything but the workers' etcd calls runs on the engine's thread.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>
#include <mutex>

#include "core/clock.h"
#include "core/executor.h"
#include "core/journal.h"
#include "ha/etcd_client.h"
#include "ha/log_fold.h"
#include "ha/options.h"

namespace dflockd::ha {

class DurableLog final : public core::Journal {
 public:
  using CommitFn = std::function<void(std::int64_t revision)>;
  using FailFn = std::function<void(const std::string& why)>;

  DurableLog(boost::asio::io_context& io, EtcdClient& etcd, const core::Clock& clock,
             DurableLogOptions options);
  ~DurableLog() override;
  DurableLog(const DurableLog&) = delete;
  DurableLog& operator=(const DurableLog&) = delete;

  /// A term starts: writes are fenced on `term` (the election key's create_revision);
  /// `tail` is what the store held when the term's state was loaded.
  void Begin(std::int64_t term, LogTail tail, CommitFn on_commit, FailFn on_failure);
  /// The term ends: waiting changes are dropped, waiting replies fail with `why`, and a
  /// Txn still in flight is ignored when it returns.
  void Abort(core::ErrorCode why);
  bool active() const { return active_; }
  /// Nothing recorded is uncommitted and nothing waits: what happens now may be shown.
  bool quiet() const { return !active_ || (waiting_.empty() && committed_ >= recorded_); }

  /// Hands `result` to `done` once every change recorded so far is committed (at once
  /// when none is waiting, or when no term is active). `session`: whose reply it is.
  void Deliver(core::SessionId session, core::Completion done, core::Result<core::Reply> result);
  /// The session is closing: its waiting replies run now, with kCancelled (the
  /// executor's contract: nothing of a session completes after CloseSession).
  void CancelSession(core::SessionId session);

  void Held(const core::HoldRecord& hold) override;
  void Dropped(const core::Token& token) override;
  void DelayStarted(const core::DelayRecord& delay) override;
  void DelayEnded(const core::Token& token) override;

  const DurableLogCounters& counters() const { return counters_; }
  std::size_t unfolded_entries() const { return fold_.entries(); }

 private:
  struct Change {
    std::uint64_t seq;
    std::string key;
    std::optional<std::string> value;  ///< nullopt: delete
  };
  struct Waiting {
    std::uint64_t need;
    core::SessionId session;
    core::Completion done;
    core::Result<core::Reply> result;
  };
  struct Outcome;
  struct InFlight {
    std::uint64_t id;
    std::uint64_t upto;  ///< the last change it carries
    std::string log_key;
    std::vector<LogChange> changes;
    bool done = false;
  };

  void Record(std::string key, std::optional<std::string> value);
  void ScheduleFlush();
  void Flush();
  /// Holds the next write back for changes about to come; false: send it now.
  bool Gather();
  /// Adds the term's compare: the Txn fails once another replica has been elected.
  void Fence(etcdserverpb::TxnRequest& txn) const;
  /// Builds and sends one write from the front of pending_; false if none could be made.
  bool SendOne();
  /// On a worker: runs the Txn, resolving an unknown outcome by reading `log_key` back.
  Outcome Commit(const etcdserverpb::TxnRequest& txn, const std::string& log_key);
  void MaybeCompact(std::int64_t revision);
  void OnOutcome(std::uint64_t generation, std::uint64_t id, std::size_t changes,
                 const Outcome& outcome);
  void Release();
  void ArmFoldTimer();
  void MaybeFold(bool any);
  std::int64_t UnixMs(core::TimePoint t) const;

  boost::asio::io_context& io_;
  EtcdClient& etcd_;
  const core::Clock& clock_;
  DurableLogOptions options_;
  std::string leader_key_;

  // Engine thread.
  bool active_ = false;
  std::uint64_t generation_ = 0;  ///< bumped by Begin/Abort: stale outcomes are dropped
  std::int64_t term_ = 0;
  CommitFn on_commit_;
  FailFn on_failure_;
  std::deque<Change> pending_;
  std::deque<Waiting> waiting_;
  std::uint64_t recorded_ = 0;   ///< changes recorded this term
  std::uint64_t committed_ = 0;  ///< of those, committed
  std::uint64_t txn_seq_ = 0;
  std::deque<InFlight> in_flight_;  ///< in the order their changes were recorded
  std::unordered_map<std::string, std::size_t> busy_keys_;  ///< keys in those Txns
  bool flush_posted_ = false;
  std::size_t expected_ = 0;  ///< changes the next write waits for (Gather)
  bool gather_armed_ = false;
  bool gather_expired_ = false;
  boost::asio::steady_timer gather_timer_;
  LogFold fold_;
  boost::asio::steady_timer fold_timer_;
  DurableLogCounters counters_;

  // Worker threads.
  std::mutex compact_mutex_;
  std::chrono::steady_clock::time_point next_compact_{};
  std::int64_t compact_mark_ = 0;
  boost::asio::io_context worker_io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> worker_guard_;
  std::vector<std::thread> workers_;
};

}  // namespace dflockd::ha
