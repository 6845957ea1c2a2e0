#include "ha/replica.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <boost/asio/post.hpp>
#include <vector>

#include "ha/durable_log.h"
#include "ha/election.h"
#include "ha/etcd_client.h"
#include "ha/records.h"

namespace dflockd::ha {
namespace {

namespace asio = boost::asio;

/// Fences of a term: the etcd revision above the low 20 bits. Each commit moves the
/// floor to its own revision, so fences rise across terms: a new term's revision is
/// above every revision the previous leader committed.
constexpr int kFenceShift = 20;

bool IsLockCommand(const core::Command& c) {
  return std::holds_alternative<core::Acquire>(c) || std::holds_alternative<core::Enqueue>(c) ||
         std::holds_alternative<core::Wait>(c) || std::holds_alternative<core::Release>(c) ||
         std::holds_alternative<core::Renew>(c);
}

ElectionOptions ElectionFrom(const ReplicaOptions& o) {
  ElectionOptions e;
  e.key = o.prefix + "/leader";
  e.value = o.advertise;
  e.ttl_s = o.election_ttl_s;
  // Poll a few times per TTL: a follower notices a vacant key within ~TTL/8.
  e.poll = std::clamp(std::chrono::milliseconds(o.election_ttl_s * 1000 / 8),
                      std::chrono::milliseconds(50), std::chrono::milliseconds(500));
  e.rpc_timeout = std::clamp(std::chrono::milliseconds(o.election_ttl_s * 1000 / 4),
                             std::chrono::milliseconds(200), std::chrono::milliseconds(1000));
  return e;
}

DurableLogOptions LogFrom(const ReplicaOptions& o) {
  DurableLogOptions l = o.log;
  l.prefix = o.prefix;
  return l;
}

}  // namespace

class Replica::ElectionEvents final : public Election::Listener {
 public:
  explicit ElectionEvents(Replica& r) : r_(r) {}
  void Elected(std::int64_t term) override { r_.Elected(term); }
  void Deposed(const std::string& why) override { r_.Deposed(why); }
  void LeaderSeen(const LeaderInfo& leader) override { r_.LeaderSeen(leader); }

 private:
  Replica& r_;
};

struct Replica::Loaded {
  std::vector<StoredHold> holds;
  std::vector<StoredDelay> delays;
  LogTail tail;
  std::int64_t revision = 0;
};

Replica::Replica(asio::io_context& io, runtime::EngineHost& host, core::Engine& engine,
                 const core::Clock& clock, core::TokenSource& tokens, ReplicaOptions options)
    : io_(io),
      host_(host),
      engine_(engine),
      tokens_(tokens),
      options_(std::move(options)),
      etcd_(std::make_unique<EtcdClient>(options_.etcd)),
      log_(std::make_unique<DurableLog>(io, *etcd_, clock, LogFrom(options_))),
      events_(std::make_unique<ElectionEvents>(*this)),
      election_(std::make_unique<Election>(*etcd_, ElectionFrom(options_), *events_)) {
  status_.role = "candidate";
  status_.store = etcd_->endpoint();
}

Replica::~Replica() { Stop(); }

void Replica::Start() { election_->Start(); }

void Replica::Retire() { election_->Retire(); }

void Replica::Stop() { election_->Stop(); }

DurableLogCounters Replica::log_counters() const { return log_->counters(); }

std::string Replica::RenderMetrics() const {
  const DurableLogCounters c = log_->counters();
  const auto status = Status();
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, auto value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(value) + "\n";
  };
  metric("dflockd_ha_leader", "gauge", "1 while this replica leads its shard.", serving_ ? 1 : 0);
  metric("dflockd_ha_etcd_healthy", "gauge", "1 while the last etcd call succeeded.",
         status.store_healthy ? 1 : 0);
  metric("dflockd_ha_term", "gauge", "The leader's election revision, as this replica sees it.",
         status.term);
  metric("dflockd_ha_writes_total", "counter", "Txns committed to etcd by this replica.", c.txns);
  metric("dflockd_ha_changes_total", "counter", "Changes committed (after coalescing).", c.changes);
  metric("dflockd_ha_write_failures_total", "counter",
         "Txns that failed or could not be resolved (each ends the term).", c.failures);
  metric("dflockd_ha_writes_resolved_total", "counter",
         "Txns whose answer was lost and whose outcome was read back.", c.resolved);
  metric("dflockd_ha_log_folds_total", "counter",
         "Log folds committed (committed changes turned into hold records).", c.folds);
  metric("dflockd_ha_log_fold_failures_total", "counter",
         "Log folds that failed (retried; the log stays until one commits).", c.fold_failures);
  metric("dflockd_ha_log_entries", "gauge", "Committed log entries not folded yet.",
         log_->unfolded_entries());
  return out;
}

core::StatsSnapshot::Replication Replica::Status() const {
  std::lock_guard lock(status_mutex_);
  core::StatsSnapshot::Replication s = status_;
  s.store = etcd_->endpoint();
  s.store_healthy = etcd_->healthy();
  return s;
}

void Replica::SetRole(const std::string& role, const std::string& leader, std::int64_t term) {
  std::lock_guard lock(status_mutex_);
  status_.role = role;
  status_.leader = leader;
  status_.term = term;
}

core::RequestId Replica::Submit(core::SessionId session, core::Command command,
                                core::Completion done) {
  if (!serving_) {
    if (IsLockCommand(command)) {
      done(core::ErrorCode::kUnavailable);  // not the leader (a stale forward)
      return core::kNoRequest;
    }
    return host_.Submit(session, std::move(command), std::move(done));
  }
  auto durable = [this, session, done = std::move(done)](core::Result<core::Reply> r) mutable {
    log_->Deliver(session, std::move(done), std::move(r));
  };
  return host_.Submit(session, std::move(command), std::move(durable));
}

/// Stands between the engine and an adapter's sink, so that when the engine itself
/// ends a session (slow consumer), replies held for a commit run before the adapter
/// lets go of its connection.
class Replica::Sink final : public core::SessionSink {
 public:
  Sink(Replica& r, core::SessionSink* down) : r_(r), down_(down) {}
  core::SessionId id = 0;
  bool Push(std::string_view channel, std::string_view payload) override {
    return down_->Push(channel, payload);
  }
  void Evicted() override {
    core::SessionSink* down = down_;
    r_.log_->CancelSession(id);
    r_.sinks_.erase(id);  // destroys *this
    down->Evicted();
  }

 private:
  Replica& r_;
  core::SessionSink* down_;
};

/// Stands between the engine and a watcher: an event waits for the commit of every
/// change recorded before it (events carry views into engine state, so a waiting one
/// is copied). A full watcher queue at that point ends the watch, as the engine would.
class Replica::CommittedWatch final : public core::WatchSink,
                                      public std::enable_shared_from_this<CommittedWatch> {
 public:
  CommittedWatch(Replica& r, core::WatchSink* down) : r_(r), down_(down) {}
  core::WatchId id = 0;

  bool Deliver(const core::WatchEvent& event) override {
    if (down_ == nullptr) return true;
    if (r_.log_->quiet()) return down_->Deliver(event);
    auto copy = std::make_shared<Copy>(event);
    r_.log_->Deliver(
        0,
        [weak = weak_from_this(), copy](core::Result<core::Reply> r) {
          auto self = weak.lock();
          if (r.ok() && self) self->Forward(copy->View());  // else: never committed
        },
        core::Reply{core::Ack{}});
    return true;
  }
  void WatchEvicted() override {
    auto keep = shared_from_this();
    core::WatchSink* down = std::exchange(down_, nullptr);
    r_.watches_.erase(id);
    if (down != nullptr) down->WatchEvicted();
  }
  void Detach() { down_ = nullptr; }

 private:
  /// An event with its own copies of the engine's strings.
  struct Copy {
    explicit Copy(const core::WatchEvent& e) : event(e), key(e.key), reason(e.reason) {
      if (e.info != nullptr) info = *e.info;
    }
    core::WatchEvent View() const {
      core::WatchEvent e = event;
      e.key = key;
      e.reason = reason;
      e.info = info ? &*info : nullptr;
      return e;
    }
    core::WatchEvent event;
    std::string key;
    std::string reason;
    std::optional<core::SessionInfo> info;
  };

  void Forward(const core::WatchEvent& event) {
    if (down_ == nullptr || down_->Deliver(event)) return;
    auto keep = shared_from_this();
    r_.host_.Unwatch(id);
    WatchEvicted();
  }

  Replica& r_;
  core::WatchSink* down_;
};

core::Result<core::WatchId> Replica::Watch(std::string pattern, core::WatchSink* sink) {
  auto gate = std::make_shared<CommittedWatch>(*this, sink);
  core::Result<core::WatchId> id = host_.Watch(std::move(pattern), gate.get());
  if (!id.ok()) return id;
  gate->id = id.value();
  watches_.emplace(id.value(), std::move(gate));
  return id;
}

void Replica::Unwatch(core::WatchId watch) {
  host_.Unwatch(watch);
  auto it = watches_.find(watch);
  if (it == watches_.end()) return;
  it->second->Detach();  // events still waiting for a commit are dropped
  watches_.erase(it);
}

core::SessionId Replica::OpenSession(core::SessionSink* sink) {
  if (sink == nullptr) return host_.OpenSession(nullptr);
  auto wrapper = std::make_unique<Sink>(*this, sink);
  const core::SessionId id = host_.OpenSession(wrapper.get());
  wrapper->id = id;
  sinks_.emplace(id, std::move(wrapper));
  return id;
}

void Replica::CloseSession(core::SessionId session) {
  host_.CloseSession(session);  // its waiters complete (kCancelled) and may be held too
  // Replies held for a commit belong to a connection that is going away: they run now,
  // inside CloseSession, as the engine's own pending completions do.
  log_->CancelSession(session);
  sinks_.erase(session);
}

void Replica::Elected(std::int64_t term) {
  // Load the shard's state before serving (on this thread: the calls block).
  auto state = std::make_shared<Loaded>();
  const std::string& p = options_.prefix;
  // Records first, then the log entries replayed over them in key order, all read at
  // the revision of the first page (and in pages: a response must fit a gRPC message).
  std::map<std::string, std::string> records;  // ordered: holds restore in key order
  auto load = [&](std::string from, const std::string& to, std::int64_t page, auto&& each) {
    for (;;) {
      etcdserverpb::RangeRequest req;
      req.set_key(from);
      req.set_range_end(to);
      req.set_limit(page);
      req.set_revision(state->revision);
      etcdserverpb::RangeResponse resp;
      EtcdStatus s = etcd_->Range(req, &resp, std::chrono::milliseconds(5000));
      if (!s.ok()) return s;
      if (state->revision == 0) state->revision = resp.header().revision();
      for (const auto& kv : resp.kvs()) each(kv);
      if (!resp.more() || resp.kvs_size() == 0) return s;
      from = resp.kvs(resp.kvs_size() - 1).key() + '\0';
    }
  };
  auto keep_record = [&](const mvccpb::KeyValue& kv) {
    records.emplace(kv.key(), kv.value());
    state->tail.records.insert(kv.key());
  };
  // Pages well under the client's 256 MiB message limit: records are a few hundred
  // bytes, log entries up to ~128 KiB.
  EtcdStatus s = load(p + "/h/", HoldRangeEnd(p), 10000, keep_record);
  if (s.ok()) s = load(p + "/d/", DelayRangeEnd(p), 10000, keep_record);
  if (s.ok()) {
    s = load(LogRangeStart(p), LogRangeEnd(p), 64, [&](const mvccpb::KeyValue& kv) {
      state->tail.last_key = kv.key();
      ++state->tail.entries;
      auto changes = DecodeLogEntry(p, kv.value());
      if (!changes) {
        spdlog::warn("etcd: ignoring a malformed log entry {}", kv.key());
        return;
      }
      for (LogChange& c : *changes) {
        if (c.value) {
          records[c.key] = *c.value;
        } else {
          records.erase(c.key);
        }
        state->tail.net[std::move(c.key)] = std::move(c.value);
      }
    });
  }
  if (!s.ok()) {
    spdlog::error("elected, but the shard's state could not be read ({}): resigning", s.ToString());
    election_->Resign();
    return;
  }
  const std::string holds = p + "/h/";
  for (const auto& [key, value] : records) {
    if (key.compare(0, holds.size(), holds) == 0) {
      if (auto h = DecodeHold(p, key, value)) {
        state->holds.push_back(std::move(*h));
      } else {
        spdlog::warn("etcd: ignoring a malformed hold record {}", key);
      }
    } else if (auto d = DecodeDelay(p, key, value)) {
      state->delays.push_back(std::move(*d));
    }
  }
  asio::post(io_, [this, term, state] { Serve(term, *state); });
}

void Replica::Deposed(const std::string& why) {
  asio::post(io_, [this, why] { StepDown(why); });
}

void Replica::LeaderSeen(const LeaderInfo& leader) {
  asio::post(io_, [this, leader] {
    if (serving_) return;  // we lead: our own key, or a stale view the next write settles
    // Our own address under the key: a previous run of ours whose lease has not run
    // out yet. Nobody to forward to until it does.
    const bool other = !leader.address.empty() && leader.address != options_.advertise;
    SetRole(other ? "follower" : "candidate", other ? leader.address : "", leader.revision);
    if (on_leader_) on_leader_(other ? std::optional<std::string>(leader.address) : std::nullopt);
  });
}

void Replica::Serve(std::int64_t term, Loaded& state) {
  if (serving_) StepDown("elected again");
  engine_.Reset(core::ErrorCode::kUnavailable);  // nothing of an earlier term survives
  std::size_t restored = 0;
  for (const StoredHold& h : state.holds) {
    core::HoldRecord r{h.ns, h.key, h.limit, h.token, h.lease_s, h.lock_delay_s, {}};
    auto ok = engine_.Restore(r);
    if (ok.ok()) {
      ++restored;
    } else {
      spdlog::warn("etcd: hold {} on {} not restored: {}", core::FormatToken(h.token), h.key,
                   core::ToString(ok.error()));
    }
  }
  for (const StoredDelay& d : state.delays) {
    core::DelayRecord r{d.ns, d.key, d.limit, d.token, {}};
    engine_.RestoreDelay(r, d.delay_s);
  }
  fence_revision_ = std::max(term, state.revision);
  const auto floor = static_cast<std::uint64_t>(fence_revision_);
  tokens_.Rebase(floor << kFenceShift, (floor + 1) << kFenceShift);
  log_->Begin(
      term, std::move(state.tail),
      [this](std::int64_t revision) {
        // Pipelined Txns may return out of order: only a newer revision moves fences.
        if (revision <= fence_revision_) return;
        fence_revision_ = revision;
        const auto r = static_cast<std::uint64_t>(revision);
        tokens_.Rebase(r << kFenceShift, (r + 1) << kFenceShift);
        std::lock_guard lock(status_mutex_);
        status_.committed_revision = revision;
      },
      [this](const std::string& why) {
        StepDown(why);
        election_->Resign();
      });
  engine_.SetJournal(log_.get());
  serving_ = true;
  serving_term_ = term;
  SetRole("leader", options_.advertise, term);
  host_.Rearm();
  spdlog::info("serving as leader (term {}): {} holds and {} lock-delays restored", term, restored,
               state.delays.size());
  if (on_leader_) on_leader_(std::nullopt);
}

void Replica::StepDown(const std::string& why) {
  if (!serving_) return;
  serving_ = false;
  spdlog::warn("stepping down (term {}): {}", serving_term_, why);
  engine_.SetJournal(nullptr);
  log_->Abort(core::ErrorCode::kUnavailable);
  engine_.Reset(core::ErrorCode::kUnavailable);
  SetRole("candidate", "", 0);
  if (on_leader_) on_leader_(std::nullopt);
}

}  // namespace dflockd::ha
