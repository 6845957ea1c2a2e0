#include "tls_context.h"

#include <boost/asio/ip/address.hpp>

#include "dflockd/client/errors.h"

namespace dflockd {
namespace ssl = boost::asio::ssl;

namespace {
const std::string& NameToVerify(const TlsOptions& options, const std::string& host) {
  return options.server_name.empty() ? host : options.server_name;
}
}  // namespace

std::shared_ptr<ssl::context> MakeClientTlsContext(const TlsOptions& options,
                                                   const std::string& host) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  if (options.ca_file.empty()) {
    context->set_default_verify_paths(ec);
  } else {
    context->load_verify_file(options.ca_file, ec);
  }
  if (ec) throw InvalidArgument("TLS trust store: " + ec.message());
  if (options.verify_peer) {
    context->set_verify_mode(ssl::verify_peer);
    context->set_verify_callback(ssl::host_name_verification(NameToVerify(options, host)));
  } else {
    context->set_verify_mode(ssl::verify_none);
  }
  return context;
}

void PrepareTlsStream(ssl::stream<boost::asio::ip::tcp::socket>& stream, const TlsOptions& options,
                      const std::string& host) {
  const std::string& name = NameToVerify(options, host);
  boost::system::error_code ec;
  boost::asio::ip::make_address(name, ec);
  if (ec) SSL_set_tlsext_host_name(stream.native_handle(), name.c_str());
}

}  // namespace dflockd
