// TLS set-up for client connections (Asio SSL over OpenSSL).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>

#include <memory>
#include <string>

#include "dflockd/client/options.h"

namespace dflockd {

/// A TLS 1.2+ client context from the options: system trust store or `ca_file`,
/// peer verification with host-name checking unless `verify_peer` is false.
std::shared_ptr<boost::asio::ssl::context> MakeClientTlsContext(const TlsOptions& options,
                                                                const std::string& host);

/// SNI for the stream (not for IP literals, which SNI does not allow).
void PrepareTlsStream(boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& stream,
                      const TlsOptions& options, const std::string& host);

}  // namespace dflockd
