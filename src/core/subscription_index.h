// Which sessions listen to which subject patterns. A trie over pattern tokens, so
// matching a channel visits only the branches that can match (exact token, `*`,
// `>`), independent of how many unrelated subscriptions exist.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace dflockd::core {

class SessionSink;

/// A session as the index sees it. Owned by the engine's session state.
struct Subscriber {
  SessionSink* sink = nullptr;
  std::uint64_t id = 0;
  std::uint64_t last_delivery = 0;  ///< publish stamp: one plain copy per session
  bool evicting = false;
};

/// A queue group: one copy per signal, to one member, round-robin in join order.
struct QueueGroup {
  std::vector<Subscriber*> members;
  std::size_t next = 0;
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class SubscriptionIndex {
 public:
  SubscriptionIndex();
  ~SubscriptionIndex();

  /// Adds (pattern, group) for `s`. False if it was already there. Pattern must be valid.
  bool Add(std::string_view pattern, const std::string& group, Subscriber* s);
  /// Removes (pattern, group) for `s`; false if it was not there.
  bool Remove(std::string_view pattern, const std::string& group, Subscriber* s);

  /// Calls on_plain(Subscriber*) for every plain subscription and on_group(QueueGroup&)
  /// for every queue group whose pattern matches `channel`. A session with several
  /// matching plain patterns is reported once per pattern; callers dedupe.
  template <typename PlainFn, typename GroupFn>
  void Match(std::string_view channel, PlainFn&& on_plain, GroupFn&& on_group);

  /// One entry per (pattern, group) with at least one listener.
  struct Entry {
    std::string pattern;
    std::string group;
    std::size_t listeners;
  };
  std::vector<Entry> Entries() const;

 private:
  struct Node {
    std::string pattern;  ///< the full pattern this node ends
    Node* parent = nullptr;
    std::string token;
    std::unordered_map<std::string, std::unique_ptr<Node>, StringHash, std::equal_to<>> children;
    std::unordered_set<Subscriber*> plain;
    std::map<std::string, QueueGroup, std::less<>> groups;
    bool Empty() const { return children.empty() && plain.empty() && groups.empty(); }
  };

  Node* Find(std::string_view pattern) const;
  void Prune(Node* node);
  void Collect(const Node& node, std::vector<Entry>& out) const;
  template <typename PlainFn, typename GroupFn>
  void MatchFrom(Node& node, std::string_view rest, bool at_end, PlainFn& on_plain,
                 GroupFn& on_group);

  std::unique_ptr<Node> root_;
};

template <typename PlainFn, typename GroupFn>
void SubscriptionIndex::Match(std::string_view channel, PlainFn&& on_plain, GroupFn&& on_group) {
  MatchFrom(*root_, channel, false, on_plain, on_group);
}

template <typename PlainFn, typename GroupFn>
void SubscriptionIndex::MatchFrom(Node& node, std::string_view rest, bool at_end,
                                  PlainFn& on_plain, GroupFn& on_group) {
  if (at_end) {
    for (Subscriber* s : node.plain) on_plain(s);
    for (auto& [name, group] : node.groups) on_group(group);
    return;
  }
  auto dot = rest.find('.');
  std::string_view token = rest.substr(0, dot);
  std::string_view tail = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
  bool last = dot == std::string_view::npos;
  if (auto it = node.children.find(token); it != node.children.end()) {
    MatchFrom(*it->second, tail, last, on_plain, on_group);
  }
  if (auto it = node.children.find(std::string_view("*")); it != node.children.end()) {
    MatchFrom(*it->second, tail, last, on_plain, on_group);
  }
  if (auto it = node.children.find(std::string_view(">")); it != node.children.end()) {
    // `>` matches this token and everything after it.
    MatchFrom(*it->second, {}, true, on_plain, on_group);
  }
}

}  // namespace dflockd::core
