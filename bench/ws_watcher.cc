#include "ws_watcher.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <string_view>

namespace dflockd::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

struct WsWatcher::Impl {
  asio::io_context io;
  websocket::stream<tcp::socket> ws{io};
};

WsWatcher::WsWatcher(std::string http) : http_(std::move(http)), impl_(std::make_unique<Impl>()) {}

WsWatcher::~WsWatcher() { Stop(); }

namespace {

long CountEvents(std::string_view message) {
  long n = 0;
  for (std::size_t at = message.find("\"event\":"); at != std::string_view::npos;
       at = message.find("\"event\":", at + 8)) {
    ++n;
  }
  return n;
}

}  // namespace

void WsWatcher::Start() {
  const auto colon = http_.rfind(':');
  tcp::resolver resolver(impl_->io);
  asio::connect(impl_->ws.next_layer(), resolver.resolve(http_.substr(0, colon), http_.substr(colon + 1)));
  impl_->ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
    req.set(beast::http::field::sec_websocket_protocol, "dflockd");
  }));
  impl_->ws.handshake(http_, "/v1/ws");
  impl_->ws.write(asio::buffer(std::string(R"({"id":1,"op":"watch","pattern":">"})")));
  beast::flat_buffer buffer;
  for (;;) {  // the answer, then events up to snapshot_done
    impl_->ws.read(buffer);
    const std::string text = beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    if (text.find("snapshot_done") != std::string::npos) break;
  }
  thread_ = std::thread([this] {
    beast::flat_buffer in;
    beast::error_code ec;
    while (!stopping_) {
      impl_->ws.read(in, ec);
      if (ec) {
        if (!stopping_) dropped_ = true;
        return;
      }
      const auto data = in.data();
      events_.fetch_add(CountEvents(std::string_view(static_cast<const char*>(data.data()), data.size())),
                        std::memory_order_relaxed);
      in.consume(in.size());
    }
  });
}

void WsWatcher::Stop() {
  if (stopping_.exchange(true)) return;
  beast::error_code ec;
  impl_->ws.next_layer().shutdown(tcp::socket::shutdown_both, ec);
  if (thread_.joinable()) thread_.join();
  impl_->ws.next_layer().close(ec);
}

}  // namespace dflockd::bench
