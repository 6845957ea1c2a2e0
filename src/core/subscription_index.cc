#include "core/subscription_index.h"

#include <algorithm>

#include "core/subject.h"

namespace dflockd::core {

SubscriptionIndex::SubscriptionIndex() : root_(std::make_unique<Node>()) {}
SubscriptionIndex::~SubscriptionIndex() = default;

bool SubscriptionIndex::Add(std::string_view pattern, const std::string& group, Subscriber* s) {
  Node* node = root_.get();
  TokenCursor cursor(pattern);
  std::string_view token;
  while (cursor.Next(token)) {
    auto it = node->children.find(token);
    if (it == node->children.end()) {
      auto child = std::make_unique<Node>();
      child->parent = node;
      child->token = std::string(token);
      child->pattern = node == root_.get() ? child->token : node->pattern + "." + child->token;
      it = node->children.emplace(child->token, std::move(child)).first;
    }
    node = it->second.get();
  }
  if (group.empty()) return node->plain.insert(s).second;
  auto& members = node->groups[group].members;
  if (std::find(members.begin(), members.end(), s) != members.end()) return false;
  members.push_back(s);
  return true;
}

bool SubscriptionIndex::Remove(std::string_view pattern, const std::string& group, Subscriber* s) {
  Node* node = Find(pattern);
  if (node == nullptr) return false;
  bool removed = false;
  if (group.empty()) {
    removed = node->plain.erase(s) > 0;
  } else if (auto g = node->groups.find(group); g != node->groups.end()) {
    auto& members = g->second.members;
    auto it = std::find(members.begin(), members.end(), s);
    if (it != members.end()) {
      std::size_t index = static_cast<std::size_t>(it - members.begin());
      members.erase(it);
      removed = true;
      // Keep the round-robin position pointing at the member that was next.
      if (index < g->second.next) --g->second.next;
      if (members.empty()) {
        node->groups.erase(g);
      } else if (g->second.next >= members.size()) {
        g->second.next = 0;
      }
    }
  }
  Prune(node);
  return removed;
}

SubscriptionIndex::Node* SubscriptionIndex::Find(std::string_view pattern) const {
  Node* node = root_.get();
  TokenCursor cursor(pattern);
  std::string_view token;
  while (cursor.Next(token)) {
    auto it = node->children.find(token);
    if (it == node->children.end()) return nullptr;
    node = it->second.get();
  }
  return node;
}

void SubscriptionIndex::Prune(Node* node) {
  while (node != root_.get() && node->Empty()) {
    Node* parent = node->parent;
    parent->children.erase(node->token);  // destroys node
    node = parent;
  }
}

std::vector<SubscriptionIndex::Entry> SubscriptionIndex::Entries() const {
  std::vector<Entry> out;
  Collect(*root_, out);
  return out;
}

void SubscriptionIndex::Collect(const Node& node, std::vector<Entry>& out) const {
  if (!node.plain.empty()) out.push_back({node.pattern, "", node.plain.size()});
  for (const auto& [name, group] : node.groups) {
    out.push_back({node.pattern, name, group.members.size()});
  }
  for (const auto& [token, child] : node.children) Collect(*child, out);
}

}  // namespace dflockd::core
