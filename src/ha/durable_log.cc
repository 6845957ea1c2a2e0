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
      commit_prefix_(options_.prefix + "/commit/"),
      leader_key_(options_.prefix + "/leader"),
      worker_guard_(worker_io_.get_executor()) {
  if (options_.max_txn_ops < 2) options_.max_txn_ops = 2;  // one change plus the marker
  if (options_.max_in_flight < 1) options_.max_in_flight = 1;
  for (std::size_t i = 0; i < options_.max_in_flight; ++i) {
    workers_.emplace_back([this] { worker_io_.run(); });
  }
}

DurableLog::~DurableLog() {
  worker_guard_.reset();
  worker_io_.stop();
  for (auto& t : workers_) t.join();
}

void DurableLog::Begin(std::int64_t term, CommitFn on_commit, FailFn on_failure) {
  ++generation_;
  active_ = true;
  term_ = term;
  on_commit_ = std::move(on_commit);
  on_failure_ = std::move(on_failure);
  pending_.clear();
  recorded_ = committed_ = 0;
  in_flight_.clear();
  busy_keys_.clear();
  free_slots_.clear();
  for (std::size_t i = options_.max_in_flight; i > 0; --i) free_slots_.push_back(i - 1);
}

void DurableLog::Abort(core::ErrorCode why) {
  ++generation_;
  active_ = false;
  pending_.clear();
  in_flight_.clear();
  busy_keys_.clear();
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
  if (flush_posted_ || free_slots_.empty()) return;
  // After the handlers already queued: one Txn carries this whole loop turn's changes.
  flush_posted_ = true;
  asio::post(io_, [this, generation = generation_] {
    flush_posted_ = false;
    if (generation == generation_) Flush();
  });
}

void DurableLog::Flush() {
  // etcd's cost is mostly per Txn, not per change: a second Txn goes out alongside
  // one in flight only when it would be well filled; otherwise the changes wait and
  // ride in the next one.
  const std::size_t worth_a_txn = options_.max_txn_ops / 4;
  while (active_ && !free_slots_.empty() && !pending_.empty() &&
         (in_flight_.empty() || pending_.size() >= worth_a_txn) && SendOne()) {
  }
}

bool DurableLog::SendOne() {
  auto txn = std::make_shared<etcdserverpb::TxnRequest>();
  auto* cmp = txn->add_compare();
  cmp->set_key(leader_key_);
  cmp->set_target(etcdserverpb::Compare::CREATE);
  cmp->set_result(etcdserverpb::Compare::EQUAL);
  cmp->set_create_revision(term_);
  // Coalesce: a key may appear once per Txn, and only its last value matters.
  std::unordered_map<std::string_view, int> index;
  const std::size_t room = options_.max_txn_ops - 1;  // the commit marker takes one
  std::uint64_t upto = 0;
  std::size_t taken = 0;
  for (const Change& c : pending_) {
    // A key of a Txn still in flight waits for it: etcd may apply the two in any order.
    if (!busy_keys_.empty() && busy_keys_.count(c.key) != 0) break;
    auto it = index.find(c.key);
    etcdserverpb::RequestOp* op;
    if (it == index.end()) {
      if (index.size() == room) break;
      index.emplace(c.key, txn->success_size());
      op = txn->add_success();
    } else {
      op = txn->mutable_success(it->second);
    }
    if (c.value) {
      auto* put = op->mutable_request_put();
      put->set_key(c.key);
      put->set_value(*c.value);
    } else {
      op->mutable_request_delete_range()->set_key(c.key);
    }
    upto = c.seq;
    ++taken;
  }
  if (taken == 0) return false;
  InFlight f;
  f.id = ++txn_seq_;
  f.upto = upto;
  f.slot = free_slots_.back();
  free_slots_.pop_back();
  f.keys.reserve(index.size());
  for (const auto& [key, i] : index) {
    f.keys.emplace_back(key);
    ++busy_keys_[f.keys.back()];
  }
  const std::string marker_key = commit_prefix_ + std::to_string(f.slot);
  const std::string marker = std::to_string(term_) + ":" + std::to_string(f.id);
  auto* put = txn->add_success()->mutable_request_put();
  put->set_key(marker_key);
  put->set_value(marker);
  const std::size_t changes = index.size();
  const std::uint64_t id = f.id;
  index.clear();  // its keys point into pending_, erased next
  in_flight_.push_back(std::move(f));
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(taken));
  asio::post(worker_io_, [this, txn, marker_key, marker, id, changes, generation = generation_] {
    Outcome outcome = Commit(*txn, marker_key, marker);
    if (outcome.ok) MaybeCompact(outcome.revision);
    asio::post(io_, [this, generation, id, changes, outcome] { OnOutcome(generation, id, changes, outcome); });
  });
  return true;
}

DurableLog::Outcome DurableLog::Commit(const etcdserverpb::TxnRequest& txn,
                                       const std::string& marker_key, const std::string& marker) {
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
  // The Txn may or may not have been applied: the commit marker says which. (Applied
  // later still is safe: what it records was never confirmed to a client.)
  const auto give_up = std::chrono::steady_clock::now() + options_.resolve_timeout;
  std::string last = s.ToString();
  while (std::chrono::steady_clock::now() < give_up) {
    etcdserverpb::RangeRequest req;
    req.set_key(marker_key);
    etcdserverpb::RangeResponse range;
    EtcdStatus r = etcd_.Range(req, &range, options_.txn_timeout);
    if (r.ok()) {
      if (range.kvs_size() > 0 && range.kvs(0).value() == marker) {
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
    for (const auto& key : f.keys) {
      auto it = busy_keys_.find(key);
      if (it != busy_keys_.end() && --it->second == 0) busy_keys_.erase(it);
    }
    free_slots_.push_back(f.slot);
    break;
  }
  // Replies wait for every earlier change: only a committed prefix counts.
  while (!in_flight_.empty() && in_flight_.front().done) {
    committed_ = in_flight_.front().upto;
    in_flight_.pop_front();
  }
  if (on_commit_) on_commit_(outcome.revision);
  Release();
  Flush();
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
