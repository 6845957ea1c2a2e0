// Write-through of the engine's changes to etcd, batched and fenced (durable mode).
//
// The engine reports each change (core::Journal) on its thread; changes wait in
// order and go to etcd as Txns from worker threads, each Txn holding as many waiting
// changes as fit in --etcd-max-txn-ops (a key appears once: later changes of it
// replace earlier ones). Up to `max_in_flight` Txns are pipelined; etcd may apply
// pipelined Txns in any order, so a Txn never takes a key that one in flight has (the
// batch stops there and waits). Every Txn compares the election key's create_revision
// with the term, so a deposed or paused leader can never commit; it also writes a
// commit marker (<prefix>/commit/<slot>, one slot per Txn in flight), so a Txn whose
// outcome is unknown (timeout) is resolved by reading its marker back.
//
// Replies pass through Deliver(): a reply waits until every change recorded before it
// is committed, so nothing a client is told can be lost with the leader. When a Txn
// fails, the waiting replies fail and the owner steps down (on_failure).
//
// Threading: everything but the worker's etcd calls runs on the engine's thread.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
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
#include "ha/options.h"

namespace dflockd::ha {

struct DurableLogOptions {
  std::string prefix;
  std::size_t max_txn_ops = 128;  ///< etcd's --max-txn-ops
  std::size_t max_in_flight = 4;  ///< Txns pipelined (each on a worker thread)
  std::chrono::milliseconds txn_timeout{1000};
  /// How long an outcome-unknown Txn may take to resolve by reading back.
  std::chrono::milliseconds resolve_timeout{3000};
  /// Compact etcd's history this often, to the revision of the previous round (0: off).
  std::chrono::seconds compact_interval{5};
};

class DurableLog final : public core::Journal {
 public:
  using CommitFn = std::function<void(std::int64_t revision)>;
  using FailFn = std::function<void(const std::string& why)>;

  DurableLog(boost::asio::io_context& io, EtcdClient& etcd, const core::Clock& clock,
             DurableLogOptions options);
  ~DurableLog() override;
  DurableLog(const DurableLog&) = delete;
  DurableLog& operator=(const DurableLog&) = delete;

  /// A term starts: writes are fenced on `term` (the election key's create_revision).
  void Begin(std::int64_t term, CommitFn on_commit, FailFn on_failure);
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
  std::size_t waiting_changes() const { return pending_.size(); }

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
    std::size_t slot;    ///< its commit marker
    std::vector<std::string> keys;
    bool done = false;
  };

  void Record(std::string key, std::optional<std::string> value);
  void ScheduleFlush();
  void Flush();
  /// On the worker: runs the Txn, resolving an unknown outcome by reading back.
  /// Builds and sends one Txn from the front of pending_; false if none could be made.
  bool SendOne();
  Outcome Commit(const etcdserverpb::TxnRequest& txn, const std::string& marker_key,
                 const std::string& marker);
  void MaybeCompact(std::int64_t revision);
  void OnOutcome(std::uint64_t generation, std::uint64_t id, std::size_t changes,
                 const Outcome& outcome);
  void Release();
  std::int64_t UnixMs(core::TimePoint t) const;

  boost::asio::io_context& io_;
  EtcdClient& etcd_;
  const core::Clock& clock_;
  DurableLogOptions options_;
  std::string commit_prefix_;
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
  std::vector<std::size_t> free_slots_;
  bool flush_posted_ = false;
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
