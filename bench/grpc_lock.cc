#include "grpc_lock.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <stdexcept>
#include <vector>

#include "dflockd/v1/dflockd.grpc.pb.h"

namespace dflockd::bench {
namespace {
namespace v1 = dflockd::v1;
using Clock = std::chrono::steady_clock;

/// One closed-loop worker: its requests, replies and the call in flight.
struct Worker {
  std::unique_ptr<v1::Dflockd::Stub> stub;
  std::unique_ptr<grpc::ClientContext> context;
  v1::AcquireRequest acquire;
  v1::AcquireResponse granted;
  v1::ReleaseRequest release;
  v1::ReleaseResponse released;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::AcquireResponse>> acquiring;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::ReleaseResponse>> releasing;
  grpc::Status status;
  bool releasing_now = false;
  long done = 0;
  Clock::time_point started;
  LatencyStats stats;

  void StartAcquire(grpc::CompletionQueue& cq) {
    context = std::make_unique<grpc::ClientContext>();
    releasing_now = false;
    started = Clock::now();
    acquiring = stub->AsyncAcquire(context.get(), acquire, &cq);
    acquiring->Finish(&granted, &status, this);
  }

  void StartRelease(grpc::CompletionQueue& cq) {
    context = std::make_unique<grpc::ClientContext>();
    releasing_now = true;
    release.set_token(granted.grant().token());
    releasing = stub->AsyncRelease(context.get(), release, &cq);
    releasing->Finish(&released, &status, this);
  }
};

}  // namespace

LatencyStats RunGrpcLock(const GrpcLockPlan& plan) {
  // Each channel gets its own subchannel pool, hence its own TCP connection.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < std::max(1, plan.channels); ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channels.push_back(grpc::CreateCustomChannel(plan.server, grpc::InsecureChannelCredentials(), args));
  }
  grpc::CompletionQueue cq;
  std::vector<Worker> workers(static_cast<std::size_t>(plan.workers));
  for (std::size_t i = 0; i < workers.size(); ++i) {
    Worker& w = workers[i];
    w.stub = v1::Dflockd::NewStub(channels[i % channels.size()]);
    const std::string key = "bench-" + std::to_string(i);
    w.acquire.mutable_resource()->set_key(key);
    w.acquire.set_timeout_s(30);
    w.release.mutable_resource()->set_key(key);
    w.StartAcquire(cq);
  }

  std::string error;
  std::size_t active = workers.size();
  void* tag = nullptr;
  bool ok = false;
  while (active > 0 && cq.Next(&tag, &ok)) {
    Worker& w = *static_cast<Worker*>(tag);
    if (!ok || !w.status.ok()) {
      if (error.empty()) {
        error = std::string(w.releasing_now ? "gRPC release: " : "gRPC acquire: ") +
                (ok ? w.status.error_message() : "the call failed");
      }
      --active;  // this worker stops; the others stop at their next completion
      continue;
    }
    if (!w.releasing_now) {
      w.StartRelease(cq);
      continue;
    }
    const auto now = Clock::now();
    if (w.started >= plan.measure_from) w.stats.Add(now - w.started);
    ++w.done;
    const bool finished = plan.rounds > 0 ? w.done >= plan.rounds : now >= plan.stop_at;
    if (finished || !error.empty()) {
      --active;
    } else {
      w.StartAcquire(cq);
    }
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (!error.empty()) throw std::runtime_error(error);
  LatencyStats all;
  for (const Worker& w : workers) all.Merge(w.stats);
  return all;
}

}  // namespace dflockd::bench
