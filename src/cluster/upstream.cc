#include "cluster/upstream.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstring>

#include "cluster/peer_wire.h"

namespace dflockd::cluster {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

// The socket, optionally wrapped in TLS once connected, and the connect timer.
class Upstream::Transport {
 public:
  explicit Transport(asio::io_context& io) : resolver(io), socket(io), timer(io) {}

  template <typename F>
  void ReadSome(F&& done) {
    if (tls) {
      tls->async_read_some(asio::buffer(buffer), std::forward<F>(done));
    } else {
      socket.async_read_some(asio::buffer(buffer), std::forward<F>(done));
    }
  }
  template <typename F>
  void Write(const std::string& data, F&& done) {
    if (tls) {
      asio::async_write(*tls, asio::buffer(data), std::forward<F>(done));
    } else {
      asio::async_write(socket, asio::buffer(data), std::forward<F>(done));
    }
  }
  void Close() {
    error_code ec;
    resolver.cancel();
    timer.cancel();
    tcp::socket& s = tls ? tls->next_layer() : socket;
    s.shutdown(tcp::socket::shutdown_both, ec);
    s.close(ec);
  }

  tcp::resolver resolver;
  tcp::socket socket;  ///< moved into `tls` when TLS is on
  std::unique_ptr<asio::ssl::stream<tcp::socket>> tls;
  asio::steady_timer timer;
  std::array<char, 16 * 1024> buffer;
};

namespace {

/// Finds a peer that vanished without a FIN within ~11 s even while no request is
/// outstanding (a blocking acquire may wait for minutes).
void SetKeepAlive(tcp::socket& socket) {
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  socket.set_option(asio::socket_base::keep_alive(true), ec);
  const int fd = socket.native_handle();
  int idle = 5, interval = 2, count = 3;
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

}  // namespace

Upstream::Upstream(asio::io_context& io, UpstreamOptions options)
    : io_(io), options_(std::move(options)), transport_(std::make_unique<Transport>(io)) {}

Upstream::~Upstream() { transport_->Close(); }

void Upstream::Connect() {
  // The hello goes first; requests queue behind it and are written with it.
  std::string hello;
  AppendPeerHello(hello, options_.auth_token, options_.self, options_.detached);
  out_.insert(0, hello);
  hello_replies_ = options_.auth_token.empty() ? 1 : 2;
  for (std::size_t i = 0; i < hello_replies_; ++i) {
    waiting_.push_front(Pending{[this](std::optional<std::string_view> line) { OnHello(line); },
                                Clock::now() + options_.connect_timeout});
  }
  auto self = shared_from_this();
  transport_->timer.expires_after(options_.connect_timeout);
  transport_->timer.async_wait([self](error_code ec) {
    if (!ec && !self->established_) self->Fail("no answer within the connect timeout");
  });
  transport_->resolver.async_resolve(
      options_.host, options_.port,
      [self](error_code ec, const tcp::resolver::results_type& endpoints) {
        if (self->closed_) return;
        if (ec) return self->Fail("cannot resolve " + self->options_.host + ": " + ec.message());
        asio::async_connect(self->transport_->socket, endpoints,
                            [self](error_code ec, const tcp::endpoint&) {
                              if (self->closed_) return;
                              if (ec) return self->Fail("cannot connect: " + ec.message());
                              self->OnConnected();
                            });
      });
}

void Upstream::OnConnected() {
  SetKeepAlive(transport_->socket);
  if (options_.tls == nullptr) {
    error_code ec;
    transport_->socket.non_blocking(true, ec);
  }
  auto self = shared_from_this();
  if (options_.tls == nullptr) {
    connected_ = true;
    StartRead();
    Flush();
    return;
  }
  auto& t = *transport_;
  t.tls = std::make_unique<asio::ssl::stream<tcp::socket>>(std::move(t.socket), *options_.tls);
  // SNI, and the certificate must name the host we dialled (as in the shard list).
  ::SSL_set_tlsext_host_name(t.tls->native_handle(), options_.host.c_str());
  t.tls->set_verify_mode(asio::ssl::verify_peer);
  t.tls->set_verify_callback(asio::ssl::host_name_verification(options_.host));
  t.tls->async_handshake(asio::ssl::stream_base::client, [self](error_code ec) {
    if (self->closed_) return;
    if (ec) return self->Fail("TLS handshake failed: " + ec.message());
    self->connected_ = true;
    self->StartRead();
    self->Flush();
  });
}

void Upstream::OnHello(std::optional<std::string_view> line) {
  if (!line) return;  // lost: Fail reports it
  if (*line != "ok") {
    const bool auth = hello_replies_ == 2;
    return Fail(auth ? "the peer refused our auth token (" + std::string(*line) + ")"
                     : "the peer is not running in sharded mode (" + std::string(*line) + ")");
  }
  if (--hello_replies_ > 0) return;
  established_ = true;
  transport_->timer.cancel();
  if (on_up_) on_up_();
}

void Upstream::Send(std::string_view request, ReplyFn done, Clock::time_point deadline) {
  if (!closed_) out_.append(request);
  Queued(std::move(done), deadline);
}

void Upstream::Send(const core::Command& command, ReplyFn done, Clock::time_point deadline) {
  if (!closed_) AppendPeerRequest(out_, command);
  Queued(std::move(done), deadline);
}

void Upstream::Queued(ReplyFn done, Clock::time_point deadline) {
  if (closed_) {
    done(std::nullopt);
    return;
  }
  waiting_.push_back(Pending{std::move(done), deadline});
  Flush();
}

bool Upstream::Overdue(Clock::time_point now) const {
  return !waiting_.empty() && waiting_.front().deadline < now;
}

void Upstream::StartRead() {
  transport_->ReadSome([self = shared_from_this()](error_code ec, std::size_t n) {
    if (self->closed_) return;
    if (ec) {
      return self->Fail(ec == asio::error::eof ? "the peer closed the connection"
                                               : "read failed: " + ec.message());
    }
    self->OnRead(n);
  });
}

void Upstream::OnRead(std::size_t n) {
  auto self = shared_from_this();  // a callback may close us
  last_activity_ = Clock::now();
  in_.append(transport_->buffer.data(), n);
  std::size_t pos = 0;
  while (!closed_) {
    const void* nl = std::memchr(in_.data() + pos, '\n', in_.size() - pos);
    if (nl == nullptr) break;
    const std::size_t end = static_cast<const char*>(nl) - in_.data();
    std::string_view line(in_.data() + pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.substr(0, 4) == "sig ") {
      std::string_view rest = line.substr(4);
      auto space = rest.find(' ');
      if (space != std::string_view::npos && on_push_) {
        on_push_(rest.substr(0, space), rest.substr(space + 1));
      }
      continue;
    }
    if (waiting_.empty()) return Fail("unexpected reply from the peer");
    Pending p = std::move(waiting_.front());
    waiting_.pop_front();
    p.done(line);
  }
  if (closed_) return;
  in_.erase(0, pos);
  if (in_.size() > 128 * 1024) return Fail("reply line too long");
  StartRead();
}

void Upstream::Flush() {
  if (!connected_ || write_in_flight_ || out_.empty() || closed_) return;
  last_activity_ = Clock::now();
  if (!transport_->tls) {
    // Usually the socket takes it all at once: no asynchronous write, no handler.
    error_code ec;
    const std::size_t n = transport_->socket.write_some(asio::buffer(out_), ec);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
      return Fail("write failed: " + ec.message());
    }
    out_.erase(0, ec ? 0 : n);
    if (out_.empty()) return;
  }
  writing_.swap(out_);
  out_.clear();
  write_in_flight_ = true;
  last_activity_ = Clock::now();
  transport_->Write(writing_, [self = shared_from_this()](error_code ec, std::size_t) {
    self->write_in_flight_ = false;
    self->writing_.clear();
    if (self->closed_) return;
    if (ec) return self->Fail("write failed: " + ec.message());
    self->Flush();
  });
}

void Upstream::Fail(const std::string& why) {
  if (closed_) return;
  auto self = shared_from_this();
  closed_ = true;
  transport_->Close();
  auto pending = std::move(waiting_);
  waiting_.clear();
  for (auto& p : pending) p.done(std::nullopt);
  LostFn lost = std::move(on_lost_);
  on_push_ = nullptr;
  on_up_ = nullptr;
  if (lost) lost(why, established_);
}

void Upstream::Close() {
  if (closed_) return;
  closed_ = true;
  transport_->Close();
  waiting_.clear();
  on_push_ = nullptr;
  on_lost_ = nullptr;
  on_up_ = nullptr;
}

}  // namespace dflockd::cluster
