// Auth tokens and TLS from the client's side, against the real server.
#include <cstdlib>
#include <filesystem>

#include "client_fixture.h"

namespace dflockd::testing {
namespace {
using namespace std::chrono_literals;

TEST(Auth, TheRightTokenIsRequired) {
  ServerProcess server({"--auth-token", "s3cret"});
  auto options = OptionsFor(server);
  options.connection.auth_token = "s3cret";
  DistributedLock good("auth-key", options);
  EXPECT_TRUE(good.acquire());

  options.connection.auth_token = "wrong";
  DistributedLock wrong("auth-key", options);
  EXPECT_THROW(wrong.acquire(), AuthError);

  DistributedLock none("auth-key", OptionsFor(server));
  EXPECT_THROW(none.acquire(), AuthError);

  ConnectOptions connect;
  connect.auth_token = "s3cret";
  Connection c(AddressOf(server), connect);
  EXPECT_EQ(stats(c).locks.size(), 1u);
  connect.auth_token = "nope";
  EXPECT_THROW(Connection(AddressOf(server), connect), AuthError);

  SignalOptions signal_options = SignalOptionsFor(server);
  signal_options.connection.auth_token = "s3cret";
  SignalConn sc(signal_options);
  EXPECT_NO_THROW(sc.listen("x"));
}

class Tls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("dflockd-client-tls-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
        (dir_ / "key.pem").string() + " -out " + (dir_ / "cert.pem").string() + " 2>/dev/null";
    ASSERT_EQ(std::system(command.c_str()), 0);
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }
  static std::string Cert() { return (dir_ / "cert.pem").string(); }
  static std::string Key() { return (dir_ / "key.pem").string(); }
  static inline std::filesystem::path dir_;
};

TEST_F(Tls, LocksAndSignalsOverTls) {
  ServerProcess server({"--tls-cert", Cert(), "--tls-key", Key()});
  auto options = OptionsFor(server);
  options.connection.tls.enabled = true;
  options.connection.tls.ca_file = Cert();
  DistributedLock lock("tls-key", options);
  ASSERT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.release());

  auto by_name = options;
  by_name.servers = {ServerAddress{"localhost", static_cast<std::uint16_t>(server.native_port)}};
  DistributedLock named("tls-key", by_name);
  EXPECT_TRUE(named.acquire());

  SignalOptions signal_options = SignalOptionsFor(server);
  signal_options.connection = options.connection;
  SignalConn sc(signal_options);
  sc.listen("tls.*");
  EXPECT_EQ(sc.emit("tls.ok", "encrypted"), 1);
  EXPECT_EQ(sc.next(5s)->payload, "encrypted");
}

TEST_F(Tls, AnUntrustedServerIsRefused) {
  ServerProcess server({"--tls-cert", Cert(), "--tls-key", Key()});
  auto options = OptionsFor(server);
  options.connection.tls.enabled = true;  // system CAs only: our self-signed cert fails
  DistributedLock lock("tls-untrusted", options);
  EXPECT_THROW(lock.acquire(), ConnectionError);

  options.connection.tls.ca_file = Cert();
  options.connection.tls.server_name = "not-the-cert-name";
  DistributedLock wrong_name("tls-untrusted", options);
  EXPECT_THROW(wrong_name.acquire(), ConnectionError);

  options.connection.tls.verify_peer = false;  // explicit opt-out
  DistributedLock insecure("tls-untrusted", options);
  EXPECT_TRUE(insecure.acquire());
}

}  // namespace
}  // namespace dflockd::testing
