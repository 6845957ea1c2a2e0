// Publish and subscribe with wildcards and queue groups.
#include <dflockd/client.h>

#include <iostream>

int main() {
  using namespace std::chrono_literals;
  dflockd::SignalOptions options;
  options.server = dflockd::ServerAddress::parse("127.0.0.1:6388");
  dflockd::SignalConn listener(options);
  listener.listen("events.user.*");           // one token: events.user.login
  listener.listen("events.>", "auditors");    // a queue group: one member gets each signal

  dflockd::SignalConn publisher(options);
  auto delivered = publisher.emit("events.user.login", "alice");
  std::cout << "delivered to " << delivered << " subscription(s)\n";

  while (auto signal = listener.next(500ms)) {
    std::cout << signal->channel << ": " << signal->payload << '\n';
  }
  listener.unlisten("events.user.*");
  listener.close();
  for (const auto& signal : listener) std::cout << "never printed: " << signal.channel << '\n';
}
