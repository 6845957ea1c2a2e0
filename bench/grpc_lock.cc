#include "grpc_lock.h"

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <utility>
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

/// One closed-loop worker on a Session stream: acquire and release are messages on one
/// long-lived bidirectional call, answered in order.
struct StreamWorker {
  enum Tag : std::uintptr_t { kStarted, kWritten, kRead, kWritesDone, kFinished, kTags };
  std::unique_ptr<v1::Dflockd::Stub> stub;
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<v1::SessionRequest, v1::SessionResponse>> stream;
  v1::SessionRequest acquire;
  v1::SessionRequest release;
  v1::SessionResponse reply;
  const v1::SessionRequest* queued = nullptr;  ///< to write once the write in flight ends
  bool writing = false;
  bool releasing_now = false;
  bool closing = false;
  bool finish_requested = false;
  int outstanding = 0;  ///< tags not yet returned by the completion queue
  grpc::Status status;
  long done = 0;
  Clock::time_point started;
  LatencyStats stats;

  /// Tags carry the worker's address and the event in its low bits (alignment >= 8).
  void* TagFor(Tag t) {
    ++outstanding;
    return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(this) | t);
  }
  void Send(const v1::SessionRequest& request) {
    if (writing) {
      queued = &request;
      return;
    }
    writing = true;
    stream->Write(request, TagFor(kWritten));
  }
  void StartAcquire() {
    releasing_now = false;
    started = Clock::now();
    Send(acquire);
  }
  /// Ends the stream cleanly: half-close once the write in flight is done, then Finish.
  void Close() {
    closing = true;
    if (writing) return;  // OnClosingEvent half-closes after the write
    HalfCloseAndFinish();
  }
  void HalfCloseAndFinish() {
    finish_requested = true;
    stream->WritesDone(TagFor(kWritesDone));
    stream->Finish(&status, TagFor(kFinished));
  }
  /// After an error: reads may be outstanding, so cancel rather than half-close.
  void Abort() {
    closing = true;
    context.TryCancel();
    if (finish_requested) return;
    finish_requested = true;
    stream->Finish(&status, TagFor(kFinished));
  }
  void OnClosingEvent(Tag event) {
    if (event == kWritten) writing = false;
    if (!writing && !finish_requested) HalfCloseAndFinish();
  }
};

/// Records a finished pair (if measured); true once the worker has done its share.
bool PairDone(const GrpcLockPlan& plan, Clock::time_point started, long& done, LatencyStats& stats) {
  const auto now = Clock::now();
  if (started >= plan.measure_from) stats.Add(now - started);
  ++done;
  return plan.rounds > 0 ? done >= plan.rounds : now >= plan.stop_at;
}

std::vector<std::shared_ptr<grpc::Channel>> OpenChannels(const GrpcLockPlan& plan) {
  // Each channel gets its own subchannel pool, hence its own TCP connection.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < std::max(1, plan.channels); ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channels.push_back(grpc::CreateCustomChannel(plan.server, grpc::InsecureChannelCredentials(), args));
  }
  return channels;
}

}  // namespace

LatencyStats RunGrpcSessionLock(const GrpcLockPlan& plan) {
  const auto channels = OpenChannels(plan);
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<StreamWorker>> workers;
  for (int i = 0; i < plan.workers; ++i) {
    auto w = std::make_unique<StreamWorker>();
    w->stub = v1::Dflockd::NewStub(channels[static_cast<std::size_t>(i) % channels.size()]);
    const std::string key = "bench-" + std::to_string(i);
    w->acquire.set_id(1);
    w->acquire.mutable_acquire()->mutable_resource()->set_key(key);
    w->acquire.mutable_acquire()->set_timeout_s(30);
    w->release.set_id(2);
    w->release.mutable_release()->mutable_resource()->set_key(key);
    w->stream = w->stub->AsyncSession(&w->context, &cq, w->TagFor(StreamWorker::kStarted));
    workers.push_back(std::move(w));
  }

  std::string error;
  std::size_t active = workers.size();
  auto fail = [&](StreamWorker& w, const std::string& what) {
    if (error.empty()) error = what;
    w.Abort();
  };
  void* tag = nullptr;
  bool ok = false;
  while (active > 0 && cq.Next(&tag, &ok)) {
    const auto bits = reinterpret_cast<std::uintptr_t>(tag);
    auto& w = *reinterpret_cast<StreamWorker*>(bits & ~std::uintptr_t{7});
    const auto event = static_cast<StreamWorker::Tag>(bits & 7);
    --w.outstanding;
    if (w.closing) {
      w.OnClosingEvent(event);
      if (event == StreamWorker::kFinished && !w.status.ok() && error.empty() &&
          w.status.error_code() != grpc::StatusCode::CANCELLED) {
        error = "gRPC session: " + w.status.error_message();
      }
      if (w.outstanding == 0) --active;
      continue;
    }
    if (!ok) {
      fail(w, "gRPC session: the stream broke");
      continue;
    }
    switch (event) {
      case StreamWorker::kStarted:
        w.stream->Read(&w.reply, w.TagFor(StreamWorker::kRead));
        w.StartAcquire();
        break;
      case StreamWorker::kWritten:
        w.writing = false;
        if (w.queued != nullptr) {
          const auto* next = std::exchange(w.queued, nullptr);
          w.Send(*next);
        }
        break;
      case StreamWorker::kRead: {
        if (w.reply.status_code() != 0) {
          fail(w, "gRPC session: " + w.reply.status_message());
          break;
        }
        if (!w.releasing_now) {
          w.release.mutable_release()->set_token(w.reply.acquire().grant().token());
          w.releasing_now = true;
          w.stream->Read(&w.reply, w.TagFor(StreamWorker::kRead));
          w.Send(w.release);
          break;
        }
        if (PairDone(plan, w.started, w.done, w.stats) || !error.empty()) {
          w.Close();
        } else {
          w.stream->Read(&w.reply, w.TagFor(StreamWorker::kRead));
          w.StartAcquire();
        }
        break;
      }
      default:
        break;
    }
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (!error.empty()) throw std::runtime_error(error);
  LatencyStats all;
  for (const auto& w : workers) all.Merge(w->stats);
  return all;
}

LatencyStats RunGrpcLock(const GrpcLockPlan& plan) {
  const auto channels = OpenChannels(plan);
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
    if (PairDone(plan, w.started, w.done, w.stats) || !error.empty()) {
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
