#include "cluster/peer.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace dflockd::cluster {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{2000};

}  // namespace

Peer::Peer(std::size_t index, std::string address, UpstreamOptions options)
    : index_(index), address_(std::move(address)), options_(std::move(options)) {}

UpstreamOptions Peer::Options(bool detached) const {
  UpstreamOptions o = options_;
  o.detached = detached;
  return o;
}

void Peer::MarkDown(const std::string& why) {
  backoff_ = backoff_.count() == 0 ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
  retry_at_ = Clock::now() + backoff_;
  if (up_ && draining_) {
    spdlog::info("shard {} ({}) is draining; requests for its keys fail until it is back",
                 index_, address_);
  } else if (up_) {
    spdlog::warn("shard {} ({}) unreachable: {}; requests for its keys fail until it is back",
                 index_, address_, why);
  }
  up_ = false;
  CloseIdle();
}

void Peer::MarkUp() {
  if (!up_) spdlog::info("shard {} ({}) reachable again", index_, address_);
  up_ = true;
  draining_ = false;
  backoff_ = std::chrono::milliseconds(0);
  retry_at_ = {};
}

std::shared_ptr<Upstream> Peer::TakeIdle() {
  while (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    if (!conn->closed()) return conn;
  }
  return nullptr;
}

void Peer::ReturnIdle(std::shared_ptr<Upstream> conn) {
  if (conn->closed() || conn->outstanding() != 0) return;
  if (idle_.size() >= kMaxIdle) {
    conn->Close();
    return;
  }
  idle_.push_back(std::move(conn));
}

void Peer::CloseIdle() {
  for (auto& c : idle_) c->Close();
  idle_.clear();
}

void Peer::PruneIdle() {
  std::erase_if(idle_, [](const std::shared_ptr<Upstream>& c) { return c->closed(); });
}

}  // namespace dflockd::cluster
