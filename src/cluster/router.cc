#include "cluster/router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "cluster/peer_wire.h"
#include "core/overloaded.h"
#include "core/validation.h"

namespace dflockd::cluster {
namespace {

namespace asio = boost::asio;
using core::ErrorCode;
using Clock = std::chrono::steady_clock;

/// Router request ids carry the top bit; the engine's never do.
constexpr core::RequestId kRouterBit = core::RequestId{1} << 63;
constexpr auto kTick = std::chrono::milliseconds(250);

/// The key a command addresses, or null for commands that have none.
const std::string* KeyOf(const core::Command& command) {
  return std::visit(Overloaded{
                        [](const core::Acquire& c) -> const std::string* { return &c.key; },
                        [](const core::Enqueue& c) -> const std::string* { return &c.key; },
                        [](const core::Wait& c) -> const std::string* { return &c.key; },
                        [](const core::Release& c) -> const std::string* { return &c.key; },
                        [](const core::Renew& c) -> const std::string* { return &c.key; },
                        [](const auto&) -> const std::string* { return nullptr; },
                    },
                    command);
}

/// How long the owner may take before answering: the request's own wait plus the slack.
std::chrono::milliseconds ReplyBudget(const core::Command& command, std::chrono::milliseconds slack) {
  std::int64_t wait_s = 0;
  if (auto* a = std::get_if<core::Acquire>(&command)) wait_s = a->timeout_s;
  if (auto* w = std::get_if<core::Wait>(&command)) wait_s = w->timeout_s;
  // Far-future waits saturate: a year is "forever" for a reply deadline.
  wait_s = std::min<std::int64_t>(wait_s, 365LL * 24 * 3600);
  return slack + std::chrono::seconds(wait_s);
}

bool IsGrantOrQueue(const core::Result<core::Reply>& r) {
  return r.ok() && (std::holds_alternative<core::Granted>(r.value()) ||
                    std::holds_alternative<core::Queued>(r.value()));
}

std::string Label(const Peer& p) {
  return "shard=\"" + std::to_string(p.index()) + "\",peer=\"" + p.address() + "\"";
}

}  // namespace

/// A session as the router sees it: the engine's session plus, for clients, the
/// upstream connections and subscriptions made on its behalf.
struct Router::Session final : core::SessionSink {
  enum class Kind { kClient, kPeer, kPeerDetached };

  Router* router = nullptr;
  core::SessionId id = 0;
  core::SessionSink* downstream = nullptr;  ///< the adapter's sink; null if it never listens
  Kind kind = Kind::kClient;
  std::size_t from_shard = 0;  ///< peers: the shard the connection comes from
  std::vector<std::shared_ptr<Upstream>> upstreams;  ///< by shard
  /// Holds or two-phase state were made through upstreams[shard]: losing that
  /// connection loses them, so the client must be told (its session ends).
  std::vector<char> stateful;
  std::set<std::pair<std::string, std::string>> subscriptions;  ///< (pattern, group)
  std::set<core::RequestId> inflight;
  core::RequestId detached_request = core::kNoRequest;  ///< kPeerDetached: the waiting acquire

  bool Push(std::string_view channel, std::string_view payload) override {
    return downstream->Push(channel, payload);
  }
  void Evicted() override {
    // The engine dropped the session (slow consumer): drop ours, then tell the adapter.
    router->Evict(id, /*engine_closed=*/true);  // destroys *this
  }
};

/// A request the router answers later: forwarded to a peer, or gathered from several.
struct Router::Forwarded {
  core::RequestId id = 0;
  core::SessionId session = 0;  ///< 0: outside any session
  std::size_t shard = 0;
  std::shared_ptr<Upstream> conn;  ///< null for gathered requests
  core::Command command;
  core::Completion done;
  bool cancelled = false;
  std::size_t remaining = 0;  ///< gathered requests: answers still expected
};

Router::Router(asio::io_context& io, core::CommandExecutor& local, RouterConfig config)
    : io_(io), local_(local), config_(std::move(config)), tick_(io) {
  const auto& shards = config_.topology.shards;
  peers_.resize(shards.size());
  for (std::size_t i = 0; i < shards.size(); ++i) {
    if (i == config_.topology.self) continue;
    peers_[i] = MakePeer(i, shards[i]);
  }
  if (config_.replicated) {
    leader_slot_ = peers_.size();
    peers_.emplace_back();
  }
}

std::unique_ptr<Peer> Router::MakePeer(std::size_t index, const std::string& a) const {
  const auto colon = a.rfind(':');
  UpstreamOptions o;
  o.host = a.substr(0, colon);
  if (o.host.size() > 2 && o.host.front() == '[' && o.host.back() == ']') {
    o.host = o.host.substr(1, o.host.size() - 2);
  }
  o.port = a.substr(colon + 1);
  o.auth_token = config_.auth_token;
  o.self = config_.topology.self;
  o.tls = config_.tls;
  o.connect_timeout = config_.connect_timeout;
  return std::make_unique<Peer>(index, a, std::move(o));
}

void Router::SetLeader(std::optional<std::string> address) {
  if (leader_slot_ == kNoSlot) return;
  auto& slot = peers_[leader_slot_];
  if (!slot && !address) return;
  if (slot && address && slot->address() == *address) return;
  if (slot) {
    // Fail everything that went to the old leader while its Peer still exists (the
    // callbacks look it up): replies come back empty (kUnavailable), sessions holding
    // state there end, subscriptions are registered again on the new leader.
    std::vector<std::shared_ptr<Upstream>> conns;
    for (auto& [id, s] : sessions_) {
      if (s->upstreams[leader_slot_]) conns.push_back(s->upstreams[leader_slot_]);
    }
    for (auto& [id, f] : inflight_) {
      if (f->conn && f->session == 0 && f->shard == leader_slot_) conns.push_back(f->conn);
    }
    for (auto& c : conns) {
      if (!c->closed()) c->Fail("the shard's leader changed");
    }
    slot->CloseIdle();
    slot.reset();
  }
  if (address) {
    spdlog::info("keys of this shard are served by the leader at {}", *address);
    slot = MakePeer(leader_slot_, *address);
    for (auto& [id, s] : sessions_) {
      if (!s->subscriptions.empty() && SubscribesOn(*s, leader_slot_)) resubscribe_.insert(id);
    }
  }
}

void Router::Describe(core::Result<core::Reply>& r) const {
  if (!config_.describe || !r.ok()) return;
  if (auto* snap = std::get_if<core::StatsSnapshot>(&r.value())) config_.describe(*snap);
}

Router::~Router() { Stop(); }

void Router::Start() {
  stopped_ = false;
  tick_.expires_after(kTick);
  tick_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopped_) OnTick();
  });
}

void Router::Stop() {
  stopped_ = true;
  tick_.cancel();
  for (auto& [id, s] : sessions_) {
    for (auto& u : s->upstreams) {
      if (u) u->Close();
    }
  }
  for (auto& [id, f] : inflight_) {
    if (f->conn) f->conn->Close();
  }
  for (auto& p : peers_) {
    if (p) p->CloseIdle();
  }
}

Router::Session* Router::Find(core::SessionId id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second.get();
}

bool Router::Relays(const Session& s) const {
  return config_.replicated && s.kind != Session::Kind::kClient &&
         s.from_shard != config_.topology.self;
}

bool Router::SubscribesOn(const Session& s, std::size_t slot) const {
  if (s.kind == Session::Kind::kClient) return true;
  return slot == leader_slot_ && Relays(s);
}

core::SessionId Router::OpenSession(core::SessionSink* sink) {
  auto s = std::make_unique<Session>();
  s->router = this;
  s->downstream = sink;
  s->upstreams.resize(peers_.size());
  s->stateful.resize(peers_.size());
  s->id = local_.OpenSession(sink != nullptr ? s.get() : nullptr);
  const core::SessionId id = s->id;
  sessions_.emplace(id, std::move(s));
  return id;
}

void Router::CloseSession(core::SessionId id) { Forget(id, /*engine_closed=*/false); }

core::SessionSink* Router::Forget(core::SessionId id, bool engine_closed) {
  core::SessionSink* down = nullptr;
  if (auto it = sessions_.find(id); it != sessions_.end()) {
    Session& s = *it->second;
    down = s.downstream;
    if (s.detached_request != core::kNoRequest && !engine_closed) Cancel(s.detached_request);
    Detach(s);
    if (s.kind != Session::Kind::kClient) --peer_sessions_;
    detached_peers_.erase(id);
    sessions_.erase(it);
  }
  if (!engine_closed) local_.CloseSession(id);
  return down;
}

bool Router::MarkPeer(core::SessionId id, bool detached, std::size_t from_shard) {
  Session* s = Find(id);
  if (s == nullptr || s->kind != Session::Kind::kClient) return false;
  // Drop whatever it may have set up as a client: a peer session forwards at most to
  // this shard's leader.
  Detach(*s);
  s->subscriptions.clear();
  s->kind = detached ? Session::Kind::kPeerDetached : Session::Kind::kPeer;
  s->from_shard = from_shard;
  ++peer_sessions_;
  if (detached) detached_peers_.insert(id);
  return true;
}

void Router::Detach(Session& s) {
  auto ids = std::move(s.inflight);
  s.inflight.clear();
  for (core::RequestId rid : ids) {
    auto it = inflight_.find(rid);
    if (it == inflight_.end()) continue;
    auto f = it->second;
    inflight_.erase(it);
    f->cancelled = true;
    auto done = std::move(f->done);
    if (done) done(ErrorCode::kCancelled);
  }
  for (auto& u : s.upstreams) {
    if (u) u->Close();
    u.reset();
  }
  std::fill(s.stateful.begin(), s.stateful.end(), 0);
}

void Router::Evict(core::SessionId id, bool engine_closed) {
  if (Find(id) == nullptr) return;
  if (core::SessionSink* down = Forget(id, engine_closed)) down->Evicted();
}

core::RequestId Router::Submit(core::SessionId sid, core::Command command, core::Completion done) {
  const std::size_t leader = RemoteLeader();
  if (const std::string* key = KeyOf(command)) {
    const bool detached_peer =
        sid != 0 && !detached_peers_.empty() && detached_peers_.count(sid) != 0;
    const bool owned = config_.topology.Owns(*key);
    const bool local_keys = owned && leader == kNoSlot;  // this process serves the key
    Session* s = (local_keys && !detached_peer) || sid == 0 ? nullptr : Find(sid);
    const bool from_peer = detached_peer || (s != nullptr && s->kind != Session::Kind::kClient);
    // Another shard's request that reached a follower of this (durable) shard: once on
    // to the leader, over the peer session's own connection (its holds end with it) or,
    // for a detached peer, a pooled one.
    const bool relay = from_peer && owned && leader != kNoSlot && s != nullptr && Relays(*s) &&
                       core::IsValid(command);
    if (detached_peer && (std::holds_alternative<core::Acquire>(command) ||
                          std::holds_alternative<core::Renew>(command))) {
      // Another shard's REST/unary acquire or renew: no session owns the hold, as
      // locally (so a renewal never ties a hold to a pooled connection). The
      // connection's close withdraws an acquire while it waits.
      auto wrapped = [this, sid, done = std::move(done)](core::Result<core::Reply> r) mutable {
        if (Session* p = Find(sid)) p->detached_request = core::kNoRequest;
        done(std::move(r));
      };
      core::RequestId rid = relay ? Forward(nullptr, leader, std::move(command), std::move(wrapped))
                                  : local_.Submit(0, std::move(command), std::move(wrapped));
      if (rid != core::kNoRequest) {
        if (Session* p = Find(sid)) p->detached_request = rid;
      }
      return rid;
    }
    if (relay) {
      return Forward(detached_peer ? nullptr : s, leader, std::move(command), std::move(done));
    }
    if (local_keys || from_peer || !core::IsValid(command)) {
      return local_.Submit(sid, std::move(command), std::move(done));
    }
    const std::size_t owner = owned ? leader : config_.topology.Owner(*key);
    if (sid == 0) {
      if (std::holds_alternative<core::Enqueue>(command) ||
          std::holds_alternative<core::Wait>(command)) {
        return local_.Submit(sid, std::move(command), std::move(done));  // needs a session
      }
      return Forward(nullptr, owner, std::move(command), std::move(done));
    }
    if (s == nullptr) return local_.Submit(sid, std::move(command), std::move(done));
    return Forward(s, owner, std::move(command), std::move(done));
  }
  if (std::holds_alternative<core::Listen>(command) ||
      std::holds_alternative<core::Unlisten>(command)) {
    Session* s = sid == 0 ? nullptr : Find(sid);
    if (s == nullptr || (s->kind != Session::Kind::kClient && !Relays(*s))) {
      return local_.Submit(sid, std::move(command), std::move(done));
    }
    return Subscribe(*s, std::move(command), std::move(done));
  }
  if (auto* stats = std::get_if<core::Stats>(&command)) {
    if (stats->cluster) return ClusterStats(sid, std::move(done));
    if (leader != kNoSlot) {
      // The leader has the shard's locks; this replica adds its own view.
      auto described = [this, done = std::move(done)](core::Result<core::Reply> r) mutable {
        Describe(r);
        done(std::move(r));
      };
      return Forward(nullptr, leader, std::move(command), std::move(described));
    }
    auto adjusted = [this, done = std::move(done)](core::Result<core::Reply> r) mutable {
      if (r.ok()) {
        if (auto* snap = std::get_if<core::StatsSnapshot>(&r.value())) WithoutPeerSessions(*snap);
      }
      Describe(r);
      done(std::move(r));
    };
    return local_.Submit(sid, std::move(command), std::move(adjusted));
  }
  if (leader != kNoSlot && std::holds_alternative<core::Publish>(command)) {
    // A publish runs once, where every subscription of the shard is: on the leader.
    Session* s = sid == 0 ? nullptr : Find(sid);
    if (s == nullptr || s->kind == Session::Kind::kClient) {
      return Forward(s, leader, std::move(command), std::move(done));
    }
  }
  return local_.Submit(sid, std::move(command), std::move(done));
}

std::shared_ptr<Upstream> Router::NewUpstream(std::size_t shard, bool detached) {
  Peer& peer = *peers_[shard];
  auto conn = std::make_shared<Upstream>(io_, peer.Options(detached));
  conn->OnUp([this, shard] { peers_[shard]->MarkUp(); });
  ++peer.connections_opened;
  return conn;
}

std::shared_ptr<Upstream> Router::SessionUpstream(Session& s, std::size_t shard) {
  auto& conn = s.upstreams[shard];
  if (conn && !conn->closed()) return conn;
  conn = NewUpstream(shard, false);
  const core::SessionId id = s.id;
  conn->OnPush([this, id](std::string_view channel, std::string_view payload) {
    Session* s = Find(id);
    if (s == nullptr || s->downstream == nullptr) return;
    // The owner already counted this delivery; a full queue here is a slow consumer.
    if (!s->downstream->Push(channel, payload)) {
      spdlog::debug("session {}: push queue full for a signal from another shard: closing", id);
      Evict(id);
    }
  });
  conn->OnLost([this, id, shard](const std::string& why, bool established) {
    OnSessionUpstreamLost(id, shard, why, established);
  });
  conn->Connect();
  return conn;
}

core::RequestId Router::Forward(Session* s, std::size_t shard, core::Command command,
                                core::Completion done) {
  Peer& peer = *peers_[shard];
  const auto now = Clock::now();
  if (!peer.Available(now)) {
    ++peer.errors;
    done(peer.draining() ? ErrorCode::kDraining : ErrorCode::kUnavailable);
    return core::kNoRequest;
  }
  std::shared_ptr<Upstream> conn;
  if (s != nullptr) {
    conn = SessionUpstream(*s, shard);
  } else {
    conn = peer.TakeIdle();
    if (!conn) {
      conn = NewUpstream(shard, true);
      conn->OnLost([this, shard](const std::string& why, bool established) {
        if (!established) peers_[shard]->MarkDown(why);
      });
      conn->Connect();
    }
  }
  auto f = std::make_shared<Forwarded>();
  f->id = kRouterBit | next_request_++;
  f->session = s != nullptr ? s->id : 0;
  f->shard = shard;
  f->conn = conn;
  f->command = std::move(command);
  f->done = std::move(done);
  inflight_.emplace(f->id, f);
  if (s != nullptr) s->inflight.insert(f->id);
  ++peer.forwarded;
  const core::RequestId rid = f->id;
  conn->Send(f->command, [this, f](std::optional<std::string_view> line) { OnReply(f, line); },
             now + ReplyBudget(f->command, config_.reply_timeout));
  return inflight_.count(rid) != 0 ? rid : core::kNoRequest;
}

void Router::OnReply(const std::shared_ptr<Forwarded>& f, std::optional<std::string_view> line) {
  inflight_.erase(f->id);
  Session* s = f->session != 0 ? Find(f->session) : nullptr;
  if (s != nullptr) s->inflight.erase(f->id);
  Peer& peer = *peers_[f->shard];
  core::Result<core::Reply> r =
      line ? ParsePeerReply(f->command, *line)
           : core::Result<core::Reply>(peer.draining() ? ErrorCode::kDraining : ErrorCode::kUnavailable);
  if (!r.ok() && r.error() == ErrorCode::kUnavailable) ++peer.errors;
  if (!r.ok() && r.error() == ErrorCode::kDraining) peer.MarkDraining();
  if (s != nullptr && IsGrantOrQueue(r)) s->stateful[f->shard] = 1;
  if (f->session == 0 && line) peer.ReturnIdle(f->conn);
  if (f->cancelled) {
    // Withdrawn while the owner granted it: hand the hold straight back.
    if (r.ok()) {
      if (auto* g = std::get_if<core::Granted>(&r.value())) {
        const std::string* key = KeyOf(f->command);
        core::Namespace ns = std::visit(
            [](const auto& c) {
              if constexpr (requires { c.ns; }) return c.ns;
              return core::Namespace::kLock;
            },
            f->command);
        Forward(nullptr, f->shard, core::Release{ns, *key, g->token}, [](core::Result<core::Reply>) {});
      }
    }
    return;
  }
  auto done = std::move(f->done);
  if (done) done(std::move(r));
}

void Router::OnSessionUpstreamLost(core::SessionId id, std::size_t shard, const std::string& why,
                                   bool established) {
  if (!established) peers_[shard]->MarkDown(why);
  Session* s = Find(id);
  if (s == nullptr) return;
  s->upstreams[shard].reset();
  if (s->stateful[shard] && s->downstream != nullptr) {
    // Its holds (or queue places) on the owner are gone with that connection: as when
    // a single server's connection drops, the client's session ends.
    spdlog::warn("session {}: connection to shard {} ({}) lost with holds on it ({}): closing",
                 id, shard, peers_[shard]->address(), why);
    Evict(id);
    return;
  }
  s->stateful[shard] = 0;
  if (!s->subscriptions.empty()) resubscribe_.insert(id);
}

core::RequestId Router::Subscribe(Session& s, core::Command command, core::Completion done) {
  auto f = std::make_shared<Forwarded>();
  f->id = kRouterBit | next_request_++;
  f->session = s.id;
  f->done = std::move(done);
  f->remaining = 1;
  inflight_.emplace(f->id, f);
  s.inflight.insert(f->id);
  const core::RequestId rid = f->id;
  auto finish = [this](const std::shared_ptr<Forwarded>& g, core::Result<core::Reply> r) {
    if (g->cancelled) return;
    inflight_.erase(g->id);
    if (Session* owner = Find(g->session)) owner->inflight.erase(g->id);
    auto d = std::move(g->done);
    if (d) d(std::move(r));
  };
  const bool listen = std::holds_alternative<core::Listen>(command);
  std::pair<std::string, std::string> sub =
      listen ? std::make_pair(std::get<core::Listen>(command).pattern,
                              std::get<core::Listen>(command).group)
             : std::make_pair(std::get<core::Unlisten>(command).pattern,
                              std::get<core::Unlisten>(command).group);
  const core::SessionId sid = s.id;
  local_.Submit(sid, std::move(command), [this, f, finish, listen, sub](core::Result<core::Reply> r) {
    Session* s = Find(f->session);
    if (!r.ok() || s == nullptr || f->cancelled) return finish(f, std::move(r));
    if (listen) {
      s->subscriptions.insert(sub);
    } else {
      s->subscriptions.erase(sub);
    }
    // Registered here; now on every other shard, answering once all have (so a
    // publish anywhere after the `ok` reaches this listener).
    core::Command peer_command = listen ? core::Command{core::Listen{sub.first, sub.second}}
                                        : core::Command{core::Unlisten{sub.first, sub.second}};
    std::string bytes;
    AppendPeerRequest(bytes, peer_command);
    const auto now = Clock::now();
    for (std::size_t shard = 0; shard < peers_.size(); ++shard) {
      if (!peers_[shard] || !SubscribesOn(*s, shard)) continue;
      if (!peers_[shard]->Available(now)) {
        if (listen) resubscribe_.insert(s->id);  // registered when it is back
        continue;
      }
      ++f->remaining;
      SessionUpstream(*s, shard)->Send(
          bytes,
          [f, finish](std::optional<std::string_view>) {
            // A shard that failed to register is retried when it is reachable again.
            if (--f->remaining == 0) finish(f, core::Reply{core::Ack{}});
          },
          now + config_.reply_timeout);
      if (Find(f->session) == nullptr) return;  // evicted meanwhile
    }
    if (--f->remaining == 0) finish(f, core::Reply{core::Ack{}});
  });
  return inflight_.count(rid) != 0 ? rid : core::kNoRequest;
}

void Router::Resubscribe(Session& s, std::size_t shard) {
  auto conn = SessionUpstream(s, shard);
  const auto deadline = Clock::now() + config_.reply_timeout;
  for (const auto& [pattern, group] : s.subscriptions) {
    std::string bytes;
    AppendPeerRequest(bytes, core::Listen{pattern, group});
    conn->Send(bytes, [](std::optional<std::string_view>) {}, deadline);
    if (conn->closed()) return;
  }
}

/// Cluster-scope stats: every shard's snapshot, merged.
class Router::Gather {
 public:
  explicit Gather(std::size_t shards) : parts(shards), shard_state(shards) {}
  std::vector<std::optional<core::StatsSnapshot>> parts;
  std::vector<core::StatsSnapshot::Shard> shard_state;

  core::StatsSnapshot Merge() const {
    core::StatsSnapshot m;
    std::map<std::pair<std::string, std::string>, std::uint64_t> channels;
    for (const auto& p : parts) {
      if (!p) continue;
      m.connections += p->connections;
      m.locks.insert(m.locks.end(), p->locks.begin(), p->locks.end());
      m.semaphores.insert(m.semaphores.end(), p->semaphores.begin(), p->semaphores.end());
      m.idle_locks.insert(m.idle_locks.end(), p->idle_locks.begin(), p->idle_locks.end());
      m.idle_semaphores.insert(m.idle_semaphores.end(), p->idle_semaphores.begin(),
                               p->idle_semaphores.end());
      // Every subscription is registered on every shard: the largest count is the
      // cluster's (a shard that lost a peer for a moment may show fewer).
      for (const auto& c : p->signal_channels) {
        auto& n = channels[{c.pattern, c.group}];
        n = std::max(n, c.listeners);
      }
      m.keys_in_lock_delay += p->keys_in_lock_delay;
      m.restart_grace_remaining_s = std::max(m.restart_grace_remaining_s, p->restart_grace_remaining_s);
      m.fences_unavailable = m.fences_unavailable || p->fences_unavailable;
    }
    for (const auto& [key, n] : channels) m.signal_channels.push_back({key.first, key.second, n});
    m.shards = shard_state;
    return m;
  }
};

void Router::WithoutPeerSessions(core::StatsSnapshot& snap) const {
  // Connections from other shards are not client connections.
  snap.connections -= std::min<std::uint64_t>(snap.connections, peer_sessions_);
}

core::RequestId Router::ClusterStats(core::SessionId sid, core::Completion done) {
  const std::size_t n = config_.topology.shards.size();
  auto gather = std::make_shared<Gather>(n);
  auto f = std::make_shared<Forwarded>();
  f->id = kRouterBit | next_request_++;
  f->session = sid;
  f->done = std::move(done);
  f->remaining = n + 1;
  inflight_.emplace(f->id, f);
  if (Session* s = Find(sid)) s->inflight.insert(f->id);
  const core::RequestId rid = f->id;
  auto step = [this, f, gather] {
    if (--f->remaining != 0 || f->cancelled) return;
    inflight_.erase(f->id);
    if (Session* owner = Find(f->session)) owner->inflight.erase(f->id);
    auto d = std::move(f->done);
    if (!d) return;
    core::Result<core::Reply> r = core::Reply{gather->Merge()};
    Describe(r);
    d(std::move(r));
  };
  const auto now = Clock::now();
  for (std::size_t shard = 0; shard < n; ++shard) {
    gather->shard_state[shard].address = config_.topology.shards[shard];
    const std::size_t via = peers_[shard] ? shard : RemoteLeader();
    if (via == kNoSlot) {
      local_.Submit(0, core::Stats{}, [this, gather, shard, step](core::Result<core::Reply> r) {
        if (r.ok()) {
          auto snap = std::get<core::StatsSnapshot>(std::move(r.value()));
          WithoutPeerSessions(snap);
          gather->parts[shard] = std::move(snap);
          gather->shard_state[shard].reachable = true;
        }
        step();
      });
      continue;
    }
    Peer& peer = *peers_[via];
    if (!peer.Available(now)) {
      gather->shard_state[shard].error = "unreachable";
      step();
      continue;
    }
    Forward(nullptr, via, core::Stats{}, [gather, shard, step](core::Result<core::Reply> r) {
      if (r.ok()) {
        gather->parts[shard] = std::get<core::StatsSnapshot>(std::move(r.value()));
        gather->shard_state[shard].reachable = true;
      } else {
        gather->shard_state[shard].error = core::ToString(r.error());
      }
      step();
    });
  }
  step();
  return inflight_.count(rid) != 0 ? rid : core::kNoRequest;
}

void Router::Cancel(core::RequestId rid) {
  if ((rid & kRouterBit) == 0) return local_.Cancel(rid);
  auto it = inflight_.find(rid);
  if (it == inflight_.end()) return;
  auto f = it->second;
  inflight_.erase(it);
  Session* s = f->session != 0 ? Find(f->session) : nullptr;
  if (s != nullptr) s->inflight.erase(rid);
  if (f->conn) {
    const bool sole = f->conn->outstanding() == 1;
    if (f->session == 0 && sole) {
      f->conn->Close();  // the owner withdraws the waiter with its connection
    } else if (s != nullptr && sole && !s->stateful[f->shard] && s->subscriptions.empty()) {
      f->conn->Close();
      s->upstreams[f->shard].reset();
    }
  }
  f->cancelled = true;  // a reply still to come is dropped (a grant handed back)
  auto done = std::move(f->done);
  if (done) done(ErrorCode::kCancelled);
}

void Router::OnTick() {
  const auto now = Clock::now();
  auto keep_alive = [&](const std::shared_ptr<Upstream>& u) {
    if (!u || u->closed()) return;
    if (u->Overdue(now)) return u->Fail("no reply within the reply timeout");
    if (u->established() && u->outstanding() == 0 &&
        now - u->last_activity() > config_.ping_interval) {
      u->Send("ping\n_\n_\n", [](std::optional<std::string_view>) {}, now + config_.reply_timeout);
    }
  };
  // Upstreams are collected first: failing one can end sessions and change the maps.
  std::vector<std::shared_ptr<Upstream>> all;
  for (auto& [id, s] : sessions_) {
    for (auto& u : s->upstreams) {
      if (u) all.push_back(u);
    }
  }
  for (auto& [id, f] : inflight_) {
    if (f->conn && f->session == 0) all.push_back(f->conn);
  }
  for (auto& p : peers_) {
    if (!p) continue;
    p->PruneIdle();
    p->ForEachIdle([&](const std::shared_ptr<Upstream>& u) { all.push_back(u); });
  }
  for (auto& u : all) keep_alive(u);

  for (auto it = resubscribe_.begin(); it != resubscribe_.end();) {
    Session* s = Find(*it);
    if (s == nullptr || s->subscriptions.empty()) {
      it = resubscribe_.erase(it);
      continue;
    }
    bool complete = true;
    for (std::size_t shard = 0; shard < peers_.size(); ++shard) {
      if (!peers_[shard] || s->upstreams[shard] || !SubscribesOn(*s, shard)) continue;
      if (!peers_[shard]->Available(now)) {
        complete = false;
        continue;
      }
      Resubscribe(*s, shard);
      if (Find(*it) == nullptr) break;
    }
    it = complete ? resubscribe_.erase(it) : std::next(it);
  }
  Start();
}

std::string Router::RenderMetrics() const {
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help, auto value) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
    for (const auto& p : peers_) {
      if (!p) continue;
      out += name;
      out += '{';
      out += Label(*p);
      out += "} ";
      out += std::to_string(value(*p));
      out += '\n';
    }
  };
  family("dflockd_shard_forwarded_requests_total", "counter",
         "Requests forwarded to the shard that owns their key.",
         [](const Peer& p) { return p.forwarded; });
  family("dflockd_shard_upstream_errors_total", "counter",
         "Requests that failed because the owning shard could not be reached.",
         [](const Peer& p) { return p.errors; });
  family("dflockd_shard_upstream_connections_opened_total", "counter",
         "Connections opened to another shard.", [](const Peer& p) { return p.connections_opened; });
  family("dflockd_shard_peer_up", "gauge", "1 while the shard is reachable.",
         [](const Peer& p) { return p.up() ? 1 : 0; });
  out += "# HELP dflockd_shard_peer_sessions Connections from other shards served here.\n";
  out += "# TYPE dflockd_shard_peer_sessions gauge\n";
  out += "dflockd_shard_peer_sessions " + std::to_string(peer_sessions_) + "\n";
  return out;
}

}  // namespace dflockd::cluster
