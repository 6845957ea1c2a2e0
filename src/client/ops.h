// Each low-level protocol function as data: the request to send and how to read the
// reply. The sync and async function families both run these, so the protocol
// knowledge lives in one place.
#pragma once

#include <functional>
#include <string>

#include "wire.h"

namespace dflockd::ops {

template <class T>
struct Op {
  wire::Request request;
  std::function<T(std::string_view reply)> parse;
};

using wire::Resource;
using Lease = std::optional<std::chrono::seconds>;

inline Op<Grant> Acquire(Resource r, std::string_view key, std::chrono::seconds timeout,
                         std::uint32_t limit, Lease lease) {
  return {wire::Acquire(r, key, timeout, limit, lease),
          [key = std::string(key)](std::string_view reply) { return wire::ParseGrant(reply, key); }};
}

inline Op<void> Release(Resource r, std::string_view key, std::string_view token) {
  return {wire::Release(r, key, token), [key = std::string(key)](std::string_view reply) {
            wire::ParseOk(reply, "release '" + key + "'");
          }};
}

inline Op<std::int64_t> Renew(Resource r, std::string_view key, std::string_view token,
                              Lease lease) {
  return {wire::Renew(r, key, token, lease), [key = std::string(key)](std::string_view reply) {
            return wire::ParseOkNumber(reply, "renew '" + key + "'");
          }};
}

inline Op<EnqueueResult> Enqueue(Resource r, std::string_view key, std::uint32_t limit,
                                 Lease lease) {
  return {wire::Enqueue(r, key, limit, lease), [key = std::string(key)](std::string_view reply) {
            return wire::ParseEnqueue(reply, key);
          }};
}

inline Op<Grant> Wait(Resource r, std::string_view key, std::chrono::seconds timeout) {
  return {wire::Wait(r, key, timeout),
          [key = std::string(key)](std::string_view reply) { return wire::ParseGrant(reply, key); }};
}

inline Op<dflockd::Stats> Stats() {
  return {wire::Stats(), [](std::string_view reply) { return wire::ParseStats(reply); }};
}

inline Op<std::int64_t> Emit(std::string_view channel, std::string_view payload) {
  return {wire::Emit(channel, payload), [channel = std::string(channel)](std::string_view reply) {
            return wire::ParseOkNumber(reply, "signal '" + channel + "'");
          }};
}

inline Op<std::vector<ServerAddress>> Topology() {
  return {wire::Topology(), [](std::string_view reply) { return wire::ParseTopology(reply); }};
}

inline Op<void> Ping() {
  return {wire::Ping(), [](std::string_view reply) { wire::ParseOk(reply, "ping"); }};
}

inline Op<void> Listen(std::string_view pattern, std::string_view group) {
  return {wire::Listen(pattern, group), [pattern = std::string(pattern)](std::string_view reply) {
            wire::ParseOk(reply, "listen '" + pattern + "'");
          }};
}

inline Op<void> Unlisten(std::string_view pattern, std::string_view group) {
  return {wire::Unlisten(pattern, group), [pattern = std::string(pattern)](std::string_view reply) {
            wire::ParseOk(reply, "unlisten '" + pattern + "'");
          }};
}

}  // namespace dflockd::ops
