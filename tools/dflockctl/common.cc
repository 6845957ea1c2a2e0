#include "common.h"

#include <fstream>
#include <sstream>

#include "dflockd/client/connection.h"
#include "dflockd/client/errors.h"

namespace dflockctl {

namespace {

std::vector<dflockd::ServerAddress> ListedServers(const GlobalOptions& global) {
  std::vector<dflockd::ServerAddress> out;
  for (const auto& entry : global.servers) {
    // Each value may itself be a comma-separated list (handy in the environment).
    std::stringstream parts(entry);
    std::string part;
    while (std::getline(parts, part, ',')) {
      if (!part.empty()) out.push_back(dflockd::ServerAddress::parse(part));
    }
  }
  if (out.empty()) out.emplace_back();
  return out;
}

}  // namespace

std::vector<dflockd::ServerAddress> ClusterShards(const GlobalOptions& global) {
  std::string last_error;
  for (const auto& server : ListedServers(global)) {
    try {
      dflockd::Connection connection(server, ConnectOptionsFrom(global));
      return dflockd::discover_servers(connection);
    } catch (const dflockd::ConnectionError& e) {
      last_error = e.what();  // try the next one
    }
  }
  throw dflockd::ConnectionError("no server answered: " + last_error);
}

std::vector<dflockd::ServerAddress> Servers(const GlobalOptions& global) {
  if (global.discover) {
    auto shards = ClusterShards(global);
    if (!shards.empty()) return shards;
  }
  return ListedServers(global);
}

dflockd::ConnectOptions ConnectOptionsFrom(const GlobalOptions& global) {
  dflockd::ConnectOptions options;
  options.tls.enabled = global.tls || !global.tls_ca.empty() || global.tls_insecure;
  options.tls.ca_file = global.tls_ca;
  options.tls.verify_peer = !global.tls_insecure;
  options.connect_timeout =
      std::chrono::milliseconds(static_cast<long long>(global.connect_timeout_s * 1000));
  if (!global.auth_token.empty()) options.auth_token = global.auth_token;
  if (!global.auth_token_file.empty()) {
    std::ifstream file(global.auth_token_file);
    if (!file) throw dflockd::InvalidArgument("cannot read " + global.auth_token_file);
    std::string token;
    std::getline(file, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (token.empty()) throw dflockd::InvalidArgument(global.auth_token_file + " is empty");
    options.auth_token = token;
  }
  return options;
}

}  // namespace dflockctl
