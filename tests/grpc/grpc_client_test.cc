// The real dflockd binary driven by the real gRPC C++ client: every RPC, every
// status code, deadlines and cancellation, and session ownership.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <thread>

#include "dflockd/v1/dflockd.grpc.pb.h"
#include "support/eventually.h"
#include "support/server_process.h"

namespace dflockd::testing {
namespace {

namespace v1 = ::dflockd::v1;
/// How long the server may take to act on a cancel or a subscription.
constexpr std::chrono::seconds kSettle{5};
using ::grpc::ClientContext;
using ::grpc::Status;
using ::grpc::StatusCode;

v1::Resource Lock(const std::string& key) {
  v1::Resource r;
  r.set_key(key);
  return r;
}

v1::Resource Semaphore(const std::string& key, uint32_t limit) {
  v1::Resource r;
  r.set_kind(v1::KIND_SEMAPHORE);
  r.set_key(key);
  r.set_limit(limit);
  return r;
}

class GrpcClient : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> args = {}) {
    server_ = std::make_unique<ServerProcess>(std::move(args));
    channel_ = ::grpc::CreateChannel(server_->grpc_address(), ::grpc::InsecureChannelCredentials());
    stub_ = v1::Dflockd::NewStub(channel_);
  }
  void SetUp() override { Start(); }
  void TearDown() override {
    if (server_) {
      EXPECT_EQ(server_->Stop(), 0);
    }
  }

  Status Acquire(const v1::Resource& r, int64_t timeout, v1::Grant* grant = nullptr,
                 int64_t lease = 0, std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
    ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    v1::AcquireRequest req;
    *req.mutable_resource() = r;
    req.set_timeout_s(timeout);
    req.set_lease_ttl_s(lease);
    v1::AcquireResponse resp;
    Status s = stub_->Acquire(&ctx, req, &resp);
    if (grant != nullptr) *grant = resp.grant();
    return s;
  }

  Status Release(const v1::Resource& r, const std::string& token) {
    ClientContext ctx;
    v1::ReleaseRequest req;
    *req.mutable_resource() = r;
    req.set_token(token);
    v1::ReleaseResponse resp;
    return stub_->Release(&ctx, req, &resp);
  }

  Status Renew(const v1::Resource& r, const std::string& token, int64_t lease,
               int64_t* granted = nullptr) {
    ClientContext ctx;
    v1::RenewRequest req;
    *req.mutable_resource() = r;
    req.set_token(token);
    req.set_lease_ttl_s(lease);
    v1::RenewResponse resp;
    Status s = stub_->Renew(&ctx, req, &resp);
    if (granted != nullptr) *granted = resp.lease_ttl_s();
    return s;
  }

  v1::StatsResponse Stats() {
    ClientContext ctx;
    v1::StatsResponse resp;
    EXPECT_TRUE(stub_->Stats(&ctx, v1::StatsRequest(), &resp).ok());
    return resp;
  }

  std::uint32_t WaitersOn(std::size_t lock_index) {
    auto stats = Stats();
    return stats.locks_size() > static_cast<int>(lock_index) ? stats.locks(lock_index).waiters() : 0;
  }

  std::uint64_t Listeners() {
    std::uint64_t total = 0;
    const auto stats = Stats();  // (a range over a temporary's member would dangle)
    for (const auto& channel : stats.signal_channels()) total += channel.listeners();
    return total;
  }

  std::unique_ptr<ServerProcess> server_;
  std::shared_ptr<::grpc::Channel> channel_;
  std::unique_ptr<v1::Dflockd::Stub> stub_;
};

TEST_F(GrpcClient, AcquireRenewReleaseAndStats) {
  v1::Grant grant;
  ASSERT_TRUE(Acquire(Lock("k"), 0, &grant, 20).ok());
  EXPECT_EQ(grant.token().size(), 32u);
  EXPECT_EQ(grant.lease_ttl_s(), 20);
  EXPECT_EQ(std::stoull(grant.token().substr(0, 16), nullptr, 16), grant.fence());
  int64_t lease = 0;
  ASSERT_TRUE(Renew(Lock("k"), grant.token(), 40, &lease).ok());
  EXPECT_EQ(lease, 40);
  auto stats = Stats();
  ASSERT_EQ(stats.locks_size(), 1);
  EXPECT_EQ(stats.locks(0).key(), "k");
  EXPECT_GT(stats.locks(0).lease_expires_in_s(), 35);
  EXPECT_TRUE(Release(Lock("k"), grant.token()).ok());
  EXPECT_EQ(Release(Lock("k"), grant.token()).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Renew(Lock("k"), grant.token(), 0).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Release(Lock("k"), "not-a-token").error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(GrpcClient, FencesIncrease) {
  uint64_t last = 0;
  for (int i = 0; i < 10; ++i) {
    v1::Grant g;
    std::string key = "f";
    key += std::to_string(i);  // (operator+ trips a GCC 12 -Wrestrict false positive)
    ASSERT_TRUE(Acquire(Lock(key), 0, &g).ok());
    EXPECT_GT(g.fence(), last);
    last = g.fence();
  }
}

TEST_F(GrpcClient, ErrorCodes) {
  v1::Grant g;
  ASSERT_TRUE(Acquire(Lock("busy"), 0, &g).ok());
  EXPECT_EQ(Acquire(Lock("busy"), 0).error_code(), StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(Acquire(Lock("bad key"), 0).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Acquire(Lock(""), 0).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Acquire(Lock("k"), -1).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Acquire(Lock("k"), 0, nullptr, -5).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Acquire(Semaphore("s", 0), 0).error_code(), StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(Acquire(Semaphore("s", 2), 0).ok());
  EXPECT_EQ(Acquire(Semaphore("s", 3), 0).error_code(), StatusCode::FAILED_PRECONDITION);
  ClientContext ctx;
  v1::PublishRequest pub;
  pub.set_channel("a.*");
  pub.set_payload("x");
  v1::PublishResponse pr;
  EXPECT_EQ(stub_->Publish(&ctx, pub, &pr).error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(GrpcClient, BlockingAcquireIsGrantedOnRelease) {
  v1::Grant first;
  ASSERT_TRUE(Acquire(Lock("k"), 0, &first).ok());
  v1::Grant second;
  Status second_status;
  std::thread waiter([&] { second_status = Acquire(Lock("k"), 10, &second); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(Release(Lock("k"), first.token()).ok());
  waiter.join();
  ASSERT_TRUE(second_status.ok()) << second_status.error_message();
  EXPECT_GT(second.fence(), first.fence());
}

TEST_F(GrpcClient, DeadlineExceededWithdrawsTheWaiter) {
  v1::Grant holder;
  ASSERT_TRUE(Acquire(Lock("k"), 0, &holder).ok());
  EXPECT_EQ(Acquire(Lock("k"), 30, nullptr, 0, std::chrono::milliseconds(300)).error_code(),
            StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(Eventually([&] { return WaitersOn(0) == 0; }, kSettle));
  ASSERT_TRUE(Release(Lock("k"), holder.token()).ok());
  EXPECT_TRUE(Acquire(Lock("k"), 0).ok());  // nobody was granted behind our back
}

TEST_F(GrpcClient, CancelWithdrawsTheWaiter) {
  v1::Grant holder;
  ASSERT_TRUE(Acquire(Lock("k"), 0, &holder).ok());
  ClientContext ctx;
  v1::AcquireRequest req;
  *req.mutable_resource() = Lock("k");
  req.set_timeout_s(30);
  v1::AcquireResponse resp;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ctx.TryCancel();
  });
  EXPECT_EQ(stub_->Acquire(&ctx, req, &resp).error_code(), StatusCode::CANCELLED);
  canceller.join();
  EXPECT_TRUE(Eventually([&] { return WaitersOn(0) == 0; }, kSettle));
  ASSERT_TRUE(Release(Lock("k"), holder.token()).ok());
  EXPECT_TRUE(Acquire(Lock("k"), 0).ok());
}

TEST_F(GrpcClient, UnaryHoldsOutliveTheCall) {
  v1::Grant g;
  ASSERT_TRUE(Acquire(Lock("k"), 0, &g, 1).ok());
  EXPECT_EQ(Acquire(Lock("k"), 0).error_code(), StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(Acquire(Lock("k"), 5).ok());  // granted when the 1 s lease expires
}

TEST_F(GrpcClient, SubscribeAndPublish) {
  ClientContext sub_ctx;
  v1::SubscribeRequest sub;
  auto* s = sub.add_subscriptions();
  s->set_pattern("events.>");
  auto reader = stub_->Subscribe(&sub_ctx, sub);
  ASSERT_TRUE(Eventually([&] { return Listeners() == 1; }, kSettle));
  ClientContext ctx;
  v1::PublishRequest pub;
  pub.set_channel("events.user.login");
  pub.set_payload("alice");
  v1::PublishResponse pr;
  ASSERT_TRUE(stub_->Publish(&ctx, pub, &pr).ok());
  EXPECT_EQ(pr.deliveries(), 1u);
  v1::Signal signal;
  ASSERT_TRUE(reader->Read(&signal));
  EXPECT_EQ(signal.channel(), "events.user.login");
  EXPECT_EQ(signal.payload(), "alice");
  sub_ctx.TryCancel();
  reader->Finish();
}

TEST_F(GrpcClient, SubscribeRejectsBadInput) {
  for (const char* pattern : {"", "fo*"}) {
    ClientContext ctx;
    v1::SubscribeRequest sub;
    if (*pattern != '\0') sub.add_subscriptions()->set_pattern(pattern);
    auto reader = stub_->Subscribe(&ctx, sub);
    v1::Signal signal;
    EXPECT_FALSE(reader->Read(&signal));
    EXPECT_EQ(reader->Finish().error_code(), StatusCode::INVALID_ARGUMENT) << pattern;
  }
}

using Stream = ::grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionResponse>;

v1::SessionResponse Call(Stream& stream, v1::SessionRequest request) {
  EXPECT_TRUE(stream.Write(request));
  v1::SessionResponse response;
  do {
    EXPECT_TRUE(stream.Read(&response));
  } while (response.has_signal());
  EXPECT_EQ(response.id(), request.id());
  return response;
}

TEST_F(GrpcClient, SessionEndReleasesHolds) {
  {
    ClientContext ctx;
    auto stream = stub_->Session(&ctx);
    v1::SessionRequest req;
    req.set_id(1);
    *req.mutable_acquire()->mutable_resource() = Lock("owned");
    auto resp = Call(*stream, req);
    ASSERT_EQ(resp.status_code(), 0);
    EXPECT_EQ(resp.acquire().grant().token().size(), 32u);
    EXPECT_EQ(Acquire(Lock("owned"), 0).error_code(), StatusCode::DEADLINE_EXCEEDED);
    EXPECT_EQ(Stats().connections(), 1u);
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
  }
  EXPECT_TRUE(Acquire(Lock("owned"), 2).ok());
}

TEST_F(GrpcClient, SessionCancelReleasesHoldsAndWaiters) {
  v1::Grant holder;
  ASSERT_TRUE(Acquire(Lock("w"), 0, &holder).ok());
  ClientContext ctx;
  auto stream = stub_->Session(&ctx);
  v1::SessionRequest req;
  req.set_id(1);
  *req.mutable_acquire()->mutable_resource() = Lock("held");
  ASSERT_EQ(Call(*stream, req).status_code(), 0);
  req.set_id(2);
  *req.mutable_acquire()->mutable_resource() = Lock("w");
  req.mutable_acquire()->set_timeout_s(30);
  ASSERT_TRUE(stream->Write(req));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ctx.TryCancel();
  stream->Finish();
  EXPECT_TRUE(Acquire(Lock("held"), 5).ok());  // granted once the session's hold goes
  ASSERT_TRUE(Release(Lock("w"), holder.token()).ok());
  EXPECT_TRUE(Acquire(Lock("w"), 0).ok());  // the cancelled session's waiter is gone
}

TEST_F(GrpcClient, SessionTwoPhaseAndErrors) {
  v1::Grant holder;
  ASSERT_TRUE(Acquire(Lock("tp"), 0, &holder).ok());
  ClientContext ctx;
  auto stream = stub_->Session(&ctx);
  v1::SessionRequest req;
  req.set_id(1);
  *req.mutable_wait()->mutable_resource() = Lock("tp");
  EXPECT_EQ(Call(*stream, req).status_code(), StatusCode::FAILED_PRECONDITION);
  req.set_id(2);
  *req.mutable_enqueue()->mutable_resource() = Lock("tp");
  auto e = Call(*stream, req);
  EXPECT_TRUE(e.enqueue().queued());
  req.set_id(3);
  EXPECT_EQ(Call(*stream, req).status_code(), StatusCode::ALREADY_EXISTS);
  ASSERT_TRUE(Release(Lock("tp"), holder.token()).ok());
  req.set_id(4);
  *req.mutable_wait()->mutable_resource() = Lock("tp");
  req.mutable_wait()->set_timeout_s(5);
  auto w = Call(*stream, req);
  EXPECT_EQ(w.status_code(), 0);
  EXPECT_EQ(w.wait().grant().token().size(), 32u);
  // A grant that expires before Wait collects it.
  v1::Grant other;
  ASSERT_TRUE(Acquire(Lock("tp2"), 0, &other).ok());
  req.set_id(5);
  *req.mutable_enqueue()->mutable_resource() = Lock("tp2");
  req.mutable_enqueue()->set_lease_ttl_s(1);
  EXPECT_TRUE(Call(*stream, req).enqueue().queued());
  ASSERT_TRUE(Release(Lock("tp2"), other.token()).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  req.set_id(6);
  *req.mutable_wait()->mutable_resource() = Lock("tp2");
  EXPECT_EQ(Call(*stream, req).status_code(), StatusCode::ABORTED);
  req.set_id(7);
  req.clear_command();
  EXPECT_EQ(Call(*stream, req).status_code(), StatusCode::INVALID_ARGUMENT);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(GrpcClient, SessionReceivesSignals) {
  ClientContext ctx;
  auto stream = stub_->Session(&ctx);
  v1::SessionRequest req;
  req.set_id(1);
  req.mutable_listen()->set_pattern("jobs.*");
  req.mutable_listen()->set_group("workers");
  ASSERT_EQ(Call(*stream, req).status_code(), 0);
  ClientContext pctx;
  v1::PublishRequest pub;
  pub.set_channel("jobs.1");
  pub.set_payload("run");
  v1::PublishResponse pr;
  ASSERT_TRUE(stub_->Publish(&pctx, pub, &pr).ok());
  EXPECT_EQ(pr.deliveries(), 1u);
  v1::SessionResponse pushed;
  ASSERT_TRUE(stream->Read(&pushed));
  EXPECT_EQ(pushed.id(), 0u);
  EXPECT_EQ(pushed.signal().channel(), "jobs.1");
  EXPECT_EQ(pushed.signal().payload(), "run");
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

class GrpcLimits : public GrpcClient {
 protected:
  void SetUp() override { Start({"--max-locks", "1", "--max-waiters", "1"}); }
};

TEST_F(GrpcLimits, ResourceExhausted) {
  v1::Grant g;
  ASSERT_TRUE(Acquire(Lock("a"), 0, &g).ok());
  EXPECT_EQ(Acquire(Lock("b"), 0).error_code(), StatusCode::RESOURCE_EXHAUSTED);
  std::thread waiter([&] { Acquire(Lock("a"), 2); });
  EXPECT_TRUE(Eventually([&] { return WaitersOn(0) == 1; }, kSettle));
  EXPECT_EQ(Acquire(Lock("a"), 2).error_code(), StatusCode::RESOURCE_EXHAUSTED);
  waiter.join();
}

class GrpcAuth : public GrpcClient {
 protected:
  void SetUp() override { Start({"--auth-token", "s3cret"}); }
};

TEST_F(GrpcAuth, BearerTokenRequired) {
  ClientContext none;
  v1::StatsResponse resp;
  EXPECT_EQ(stub_->Stats(&none, v1::StatsRequest(), &resp).error_code(),
            StatusCode::UNAUTHENTICATED);
  ClientContext wrong;
  wrong.AddMetadata("authorization", "Bearer nope");
  EXPECT_EQ(stub_->Stats(&wrong, v1::StatsRequest(), &resp).error_code(),
            StatusCode::UNAUTHENTICATED);
  ClientContext right;
  right.AddMetadata("authorization", "Bearer s3cret");
  EXPECT_TRUE(stub_->Stats(&right, v1::StatsRequest(), &resp).ok());
  ClientContext stream_ctx;
  auto stream = stub_->Session(&stream_ctx);
  v1::SessionResponse r;
  EXPECT_FALSE(stream->Read(&r));
  EXPECT_EQ(stream->Finish().error_code(), StatusCode::UNAUTHENTICATED);
}

TEST_F(GrpcClient, DrainingAnswersUnavailable) {
  // An idle native connection keeps the server draining instead of exiting.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server_->native_port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server_->Signal(SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(Acquire(Lock("k"), 0).error_code(), StatusCode::UNAVAILABLE);
  ::close(fd);
}

}  // namespace
}  // namespace dflockd::testing
