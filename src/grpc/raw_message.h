// The service takes and gives raw ByteBuffers and parses them itself: gRPC's typed
// handlers answer an unparseable request with a bare UNIMPLEMENTED (unary) or end a
// stream as if the client had half-closed (status OK, holds silently released). Here
// a malformed message is an INVALID_ARGUMENT that says so.
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>  // SerializationTraits for protobuf messages

#include <string>

namespace dflockd::grpc_api {

template <typename Message>
bool ParseMessage(const ::grpc::ByteBuffer& raw, Message* out) {
  ::grpc::ByteBuffer copy(raw);  // deserialising consumes the buffer; copies share slices
  return ::grpc::SerializationTraits<Message>::Deserialize(&copy, out).ok();
}

template <typename Message>
::grpc::ByteBuffer SerializeMessage(const Message& message) {
  ::grpc::ByteBuffer out;
  bool own_buffer = false;
  ::grpc::SerializationTraits<Message>::Serialize(message, &out, &own_buffer);
  return out;
}

template <typename Message>
::grpc::Status MalformedMessage() {
  return ::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT,
                        "malformed " + Message::descriptor()->full_name() + " message");
}

}  // namespace dflockd::grpc_api
