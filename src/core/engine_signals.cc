// Engine: signals — subscriptions, delivery, queue groups, slow-consumer eviction.
#include "core/engine.h"
#include "core/subject.h"

namespace dflockd::core {
namespace {

/// `sig <channel> <payload>\n` must fit in the 64 KiB push frame.
constexpr std::size_t kMaxPushFrame = 65536;

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n\v\f") == std::string_view::npos;
}

bool IsValidGroup(std::string_view group) { return group.empty() || IsValidKey(group); }

}  // namespace

Result<Reply> Engine::DoListen(SessionState* s, Listen& cmd) {
  if (!IsValidPattern(cmd.pattern) || !IsValidGroup(cmd.group)) return ErrorCode::kInvalid;
  if (s->subscriber.sink == nullptr) return ErrorCode::kInvalid;  // nowhere to push to
  auto entry = std::make_pair(cmd.pattern, cmd.group);
  if (s->subscriptions.count(entry) != 0) return Reply{Ack{}};  // idempotent
  if (config_.max_subscriptions != 0 && s->subscriptions.size() >= config_.max_subscriptions) {
    return ErrorCode::kMaxSubscriptions;
  }
  subscriptions_.Add(cmd.pattern, cmd.group, &s->subscriber);
  s->subscriptions.insert(std::move(entry));
  return Reply{Ack{}};
}

Result<Reply> Engine::DoUnlisten(SessionState* s, Unlisten& cmd) {
  if (!IsValidPattern(cmd.pattern) || !IsValidGroup(cmd.group)) return ErrorCode::kInvalid;
  auto it = s->subscriptions.find(std::make_pair(cmd.pattern, cmd.group));
  if (it != s->subscriptions.end()) {
    subscriptions_.Remove(cmd.pattern, cmd.group, &s->subscriber);
    s->subscriptions.erase(it);
  }
  return Reply{Ack{}};
}

void Engine::Unsubscribe(SessionState* s) {
  for (const auto& [pattern, group] : s->subscriptions) {
    subscriptions_.Remove(pattern, group, &s->subscriber);
  }
  s->subscriptions.clear();
}

Result<Reply> Engine::DoPublish(Publish& cmd) {
  if (!IsValidChannel(cmd.channel) || IsBlank(cmd.payload) ||
      cmd.channel.size() + cmd.payload.size() + 6 > kMaxPushFrame) {
    return ErrorCode::kInvalid;
  }
  ++counters_.signals_published;
  const std::uint64_t stamp = ++publish_stamp_;
  std::uint64_t delivered = 0;
  auto evict = [this](Subscriber* sub) {
    if (sub->evicting) return;
    sub->evicting = true;
    evictions_.push_back(&sessions_.at(sub->id));
  };
  auto offer = [&](Subscriber* sub) {
    return !sub->evicting && sub->sink != nullptr && sub->sink->Push(cmd.channel, cmd.payload);
  };
  subscriptions_.Match(
      cmd.channel,
      [&](Subscriber* sub) {
        if (sub->last_delivery == stamp) return;  // one plain copy per session
        sub->last_delivery = stamp;
        if (offer(sub)) {
          ++delivered;
        } else {
          ++counters_.signals_dropped;
          evict(sub);
        }
      },
      [&](QueueGroup& group) {
        const std::size_t n = group.members.size();
        for (std::size_t i = 0; i < n; ++i) {
          std::size_t index = (group.next + i) % n;
          if (offer(group.members[index])) {
            group.next = (index + 1) % n;
            ++delivered;
            return;
          }
        }
        // Every member is full: drop this copy and shed the member whose turn it was.
        ++counters_.signals_dropped;
        evict(group.members[group.next % n]);
        group.next = (group.next + 1) % n;
      });
  counters_.signals_delivered += delivered;
  // Evict only after matching: closing a session edits the index being walked.
  std::vector<SessionState*> evicted;
  evicted.swap(evictions_);
  for (SessionState* s : evicted) {
    SessionSink* sink = s->subscriber.sink;
    ++counters_.slow_consumer_evictions;
    CloseSessionState(s);
    if (sink != nullptr) sink->Evicted();
  }
  evicted.clear();
  evictions_.swap(evicted);  // keep the capacity for the next publish
  return Reply{Published{delivered}};
}

}  // namespace dflockd::core
