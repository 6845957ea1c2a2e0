// The usual helper for std::visit with a set of lambdas.
#pragma once

namespace dflockd {

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

}  // namespace dflockd
