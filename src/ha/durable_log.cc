#include "ha/durable_log.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <unordered_map>

#include "ha/records.h"

namespace dflockd::ha {

namespace asio = boost::asio;

struct DurableLog::Outcome {
  bool ok = false;
  bool resolved = false;  ///< the Txn's answer was lost; reading back found it committed
  std::int64_t revision = 0;
  std::string error;
};

DurableLog::DurableLog(asio::io_context& io, EtcdClient& etcd, const core::Clock& clock,
                       DurableLogOptions options)
    : io_(io),
      etcd_(etcd),
      clock_(clock),
      options_(std::move(options)),
      leader_key_(options_.prefix + "/leader"),
      gather_timer_(io),
      fold_timer_(io),
      worker_guard_(worker_io_.get_executor()) {
  if (options_.max_txn_ops < 2) options_.max_txn_ops = 2;  // one change plus the log delete
  if (options_.max_in_flight < 1) options_.max_in_flight = 1;
  // One more worker than writes in flight: a fold never holds a write back.
  for (std::size_t i = 0; i <= options_.max_in_flight; ++i) {
    workers_.emplace_back([this] { worker_io_.run(); });
  }
}

DurableLog::~DurableLog() {
  worker_guard_.reset();
  worker_io_.stop();
  for (auto& t : workers_) t.join();
}

void DurableLog::Begin(std::int64_t term, LogTail tail, CommitFn on_commit, FailFn on_failure) {
  ++generation_;
  active_ = true;
  term_ = term;
  on_commit_ = std::move(on_commit);
  on_failure_ = std::move(on_failure);
  pending_.clear();
  recorded_ = committed_ = 0;
  in_flight_.clear();
  busy_keys_.clear();
  expected_ = 0;
  gather_timer_.cancel();
  gather_armed_ = gather_expired_ = false;
  fold_.Reset(std::move(tail));
  ArmFoldTimer();
}

void DurableLog::Abort(core::ErrorCode why) {
  ++generation_;
  active_ = false;
  pending_.clear();
  in_flight_.clear();
  busy_keys_.clear();
  fold_.Reset({});
  gather_timer_.cancel();
  gather_armed_ = false;
  fold_timer_.cancel();
  auto failed = std::move(waiting_);
  waiting_.clear();
  for (auto& w : failed) w.done(why);
}

void DurableLog::Deliver(core::SessionId session, core::Completion done,
                         core::Result<core::Reply> result) {
  if (quiet()) {
    done(std::move(result));
    return;
  }
  waiting_.push_back(Waiting{recorded_, session, std::move(done), std::move(result)});
}

void DurableLog::CancelSession(core::SessionId session) {
  if (session == 0 || waiting_.empty()) return;
  std::vector<core::Completion> cancelled;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->session == session) {
      cancelled.push_back(std::move(it->done));
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& done : cancelled) done(core::ErrorCode::kCancelled);
}

std::int64_t DurableLog::UnixMs(core::TimePoint t) const {
  const auto left = t == core::kNever ? std::chrono::hours(24 * 365 * 100)
                                      : std::chrono::duration_cast<std::chrono::milliseconds>(
                                            t - clock_.Now());
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return (now + left).count();
}

void DurableLog::Held(const core::HoldRecord& h) {
  if (!active_) return;
  StoredHold s{h.ns, std::string(h.key), h.limit, h.token, h.lease_s, h.lock_delay_s, UnixMs(h.expires)};
  Record(HoldKey(options_.prefix, h.token), EncodeHold(s));
}

void DurableLog::Dropped(const core::Token& token) {
  if (!active_) return;
  Record(HoldKey(options_.prefix, token), std::nullopt);
}

void DurableLog::DelayStarted(const core::DelayRecord& d) {
  if (!active_) return;
  const auto left = d.until - clock_.Now();
  const std::int64_t delay_s =
      (std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 999) / 1000;
  StoredDelay s{d.ns, std::string(d.key), d.limit, d.token, delay_s, UnixMs(d.until)};
  Record(DelayKey(options_.prefix, d.token), EncodeDelay(s));
}

void DurableLog::DelayEnded(const core::Token& token) {
  if (!active_) return;
  Record(DelayKey(options_.prefix, token), std::nullopt);
}

void DurableLog::Record(std::string key, std::optional<std::string> value) {
  pending_.push_back(Change{++recorded_, std::move(key), std::move(value)});
  ScheduleFlush();
}

void DurableLog::ScheduleFlush() {
  if (flush_posted_ || in_flight_.size() >= options_.max_in_flight) return;
  // After the handlers already queued: one write carries this whole loop turn's changes.
  flush_posted_ = true;
  asio::post(io_, [this, generation = generation_] {
    flush_posted_ = false;
    if (generation == generation_) Flush();
  });
}

void DurableLog::Flush() {
  // A second write goes out alongside one in flight only when it would be well
  // filled; otherwise the changes wait and ride in the next one.
  constexpr std::size_t kWorthAWrite = 32;
  while (active_ && in_flight_.size() < options_.max_in_flight && !pending_.empty() &&
         (in_flight_.empty() || pending_.size() >= kWorthAWrite) && !Gather() && SendOne()) {
  }
}

bool DurableLog::Gather() {
  // The clients a commit answered tend to come back at once with their next change
  // (a release after a grant, the next lock): a write sent before they arrive carries
  // a few of them and leaves the rest a whole round trip. So the first write after a
  // commit waits, at most batch_wait, for as many changes as that commit carried plus
  // those already waiting. One client alone waits for nothing: its change is the one.
  if (options_.batch_wait.count() == 0 || !in_flight_.empty() || gather_expired_ ||
      pending_.size() >= expected_) {
    return false;
  }
  if (!gather_armed_) {
    gather_armed_ = true;
    gather_timer_.expires_after(options_.batch_wait);
    gather_timer_.async_wait([this, generation = generation_](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled: Begin or Abort reset the state
      gather_armed_ = false;
      if (generation != generation_) return;
      gather_expired_ = true;
      Flush();
    });
  }
  return true;
}

void DurableLog::Fence(etcdserverpb::TxnRequest& txn) const {
  // Commits only while our election key is the one that made us leader.
  auto* cmp = txn.add_compare();
  cmp->set_key(leader_key_);
  cmp->set_target(etcdserverpb::Compare::CREATE);
  cmp->set_result(etcdserverpb::Compare::EQUAL);
  cmp->set_create_revision(term_);
}

bool DurableLog::SendOne() {
  // A key appears once per entry, and only its last value matters.
  // etcd refuses requests over --max-request-bytes (1.5 MiB by default; some lower it).
  // 128 KiB is over a thousand changes, more than any batch gathers.
  constexpr std::size_t kMaxEntryBytes = 128 * 1024;
  std::vector<LogChange> changes;
  std::unordered_map<std::string_view, std::size_t> index;
  std::size_t bytes = 0;
  std::uint64_t upto = 0;
  std::size_t taken = 0;
  for (Change& c : pending_) {
    // A key of a write still in flight waits for it: etcd may apply the two in any order.
    if (!busy_keys_.empty() && busy_keys_.count(c.key) != 0) break;
    if (taken > 0 && bytes >= kMaxEntryBytes) break;
    bytes += c.key.size() + (c.value ? c.value->size() : 0) + 16;
    auto it = index.find(c.key);
    if (it == index.end()) {
      index.emplace(c.key, changes.size());
      changes.push_back(LogChange{std::move(c.key), std::move(c.value)});
    } else {
      changes[it->second].value = std::move(c.value);
    }
    upto = c.seq;
    ++taken;
  }
  if (taken == 0) return false;
  index.clear();  // its keys point into pending_ (moved from), erased next
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(taken));

  auto txn = std::make_shared<etcdserverpb::TxnRequest>();
  Fence(*txn);
  InFlight f;
  f.id = ++txn_seq_;
  f.upto = upto;
  f.log_key = LogKey(options_.prefix, term_, f.id);
  std::string entry;
  entry.reserve(bytes + 64);
  for (const LogChange& c : changes) {
    AppendLogChange(entry, options_.prefix, c.key, c.value);
    ++busy_keys_[c.key];
  }
  auto* put = txn->add_success()->mutable_request_put();
  put->set_key(f.log_key);
  put->set_value(std::move(entry));
  f.changes = std::move(changes);
  const std::size_t count = f.changes.size();
  const std::uint64_t id = f.id;
  std::string log_key = f.log_key;
  in_flight_.push_back(std::move(f));
  gather_expired_ = false;
  expected_ = 0;
  asio::post(worker_io_, [this, txn, log_key, id, count, generation = generation_] {
    Outcome outcome = Commit(*txn, log_key);
    if (outcome.ok) MaybeCompact(outcome.revision);
    asio::post(io_, [this, generation, id, count, outcome] { OnOutcome(generation, id, count, outcome); });
  });
  return true;
}

DurableLog::Outcome DurableLog::Commit(const etcdserverpb::TxnRequest& txn,
                                       const std::string& log_key) {
  Outcome out;
  etcdserverpb::TxnResponse resp;
  EtcdStatus s = etcd_.Txn(txn, &resp, options_.txn_timeout);
  if (s.ok()) {
    out.ok = resp.succeeded();
    out.revision = resp.header().revision();
    if (!out.ok) out.error = "not the leader any more: the election key changed";
    return out;
  }
  if (!s.outcome_unknown()) {
    out.error = "etcd refused the write: " + s.ToString();
    return out;
  }
  // The Txn may or may not have been applied: its entry (a key no other write uses,
  // folded only after this term confirmed it) says which. Applied later still is
  // safe: what it records was never confirmed to a client.
  const auto give_up = std::chrono::steady_clock::now() + options_.resolve_timeout;
  std::string last = s.ToString();
  while (std::chrono::steady_clock::now() < give_up) {
    etcdserverpb::RangeRequest req;
    req.set_key(log_key);
    req.set_keys_only(true);
    etcdserverpb::RangeResponse range;
    EtcdStatus r = etcd_.Range(req, &range, options_.txn_timeout);
    if (r.ok()) {
      if (range.kvs_size() > 0) {
        out.ok = true;
        out.resolved = true;
        out.revision = range.kvs(0).mod_revision();
      } else {
        out.error = "the write was not applied (" + last + ")";
      }
      return out;
    }
    last = r.ToString();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  out.error = "etcd unreachable, write outcome unknown (" + last + ")";
  return out;
}

void DurableLog::MaybeCompact(std::int64_t revision) {
  if (options_.compact_interval.count() == 0) return;
  std::lock_guard lock(compact_mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (now < next_compact_) return;
  // Compacting to the revision of the previous round keeps one interval of history
  // (what other clients' watches may still be reading).
  if (compact_mark_ > 0) {
    EtcdStatus s = etcd_.Compact(compact_mark_, options_.txn_timeout);
    if (!s.ok() && s.message.find("compacted") == std::string::npos) {
      spdlog::debug("etcd: compaction to {} failed: {}", compact_mark_, s.ToString());
    }
  }
  compact_mark_ = revision;
  next_compact_ = now + options_.compact_interval;
}

void DurableLog::OnOutcome(std::uint64_t generation, std::uint64_t id, std::size_t changes,
                           const Outcome& outcome) {
  if (generation != generation_) return;  // the term ended while it was in flight
  if (!outcome.ok) {
    ++counters_.failures;
    spdlog::error("durable write failed: {}", outcome.error);
    FailFn fail = on_failure_;
    if (fail) fail(outcome.error);  // steps down: Abort() fails the waiting replies
    return;
  }
  ++counters_.txns;
  counters_.changes += changes;
  if (outcome.resolved) ++counters_.resolved;
  counters_.last_revision = std::max(counters_.last_revision, outcome.revision);
  for (InFlight& f : in_flight_) {
    if (f.id != id) continue;
    f.done = true;
    for (const auto& c : f.changes) {
      auto it = busy_keys_.find(c.key);
      if (it != busy_keys_.end() && --it->second == 0) busy_keys_.erase(it);
    }
    break;
  }
  // Replies wait for every earlier change: only a committed prefix counts (and the
  // log is folded in that order).
  while (!in_flight_.empty() && in_flight_.front().done) {
    InFlight& f = in_flight_.front();
    committed_ = f.upto;
    fold_.Committed(f.log_key, std::move(f.changes));
    in_flight_.pop_front();
  }
  if (on_commit_) on_commit_(outcome.revision);
  // Gather: the clients this commit answers are about to send their next changes.
  expected_ = changes + pending_.size();
  Release();
  if (!active_) return;
  Flush();
  MaybeFold(false);
}

void DurableLog::ArmFoldTimer() {
  fold_timer_.expires_after(options_.fold_interval);
  fold_timer_.async_wait([this, generation = generation_](const boost::system::error_code& ec) {
    if (ec || generation != generation_ || !active_) return;
    MaybeFold(true);
    ArmFoldTimer();
  });
}

void DurableLog::MaybeFold(bool any) {
  if (!active_ || fold_.folding() || fold_.entries() == 0) return;
  if (!any && fold_.entries() < options_.fold_entries) return;
  auto plan = fold_.Start(options_.max_txn_ops);
  if (!plan) return;
  std::vector<etcdserverpb::TxnRequest> txns(plan->batches.size());
  for (std::size_t i = 0; i < txns.size(); ++i) {
    Fence(txns[i]);
    for (const LogChange& c : plan->batches[i]) {
      auto* op = txns[i].add_success();
      if (c.value) {
        op->mutable_request_put()->set_key(c.key);
        op->mutable_request_put()->set_value(*c.value);
      } else {
        op->mutable_request_delete_range()->set_key(c.key);
      }
    }
  }
  // The last Txn deletes the entries folded: every log key up to the last one's.
  auto* del = txns.back().add_success()->mutable_request_delete_range();
  del->set_key(LogRangeStart(options_.prefix));
  del->set_range_end(plan->last_log_key + '\0');
  auto shared = std::make_shared<std::vector<etcdserverpb::TxnRequest>>(std::move(txns));
  asio::post(worker_io_, [this, shared, generation = generation_] {
    std::string error;
    for (const auto& txn : *shared) {
      etcdserverpb::TxnResponse resp;
      EtcdStatus s = etcd_.Txn(txn, &resp, options_.txn_timeout);
      if (!s.ok()) error = s.ToString();
      else if (!resp.succeeded()) error = "the election key changed";
      if (!error.empty()) break;
    }
    asio::post(io_, [this, generation, error] {
      if (generation != generation_) return;
      // A failed fold changes nothing the state depends on (ha/log_fold.h); if the
      // term is over, the next write fails its compare and steps down.
      if (error.empty()) {
        ++counters_.folds;
      } else {
        ++counters_.fold_failures;
        spdlog::warn("etcd: folding the log failed, will retry: {}", error);
      }
      fold_.Finished(error.empty());
    });
  });
}

void DurableLog::Release() {
  while (!waiting_.empty() && waiting_.front().need <= committed_) {
    Waiting w = std::move(waiting_.front());
    waiting_.pop_front();
    w.done(std::move(w.result));
    if (!active_) return;  // a reply's completion may have ended the term
  }
}

}  // namespace dflockd::ha
