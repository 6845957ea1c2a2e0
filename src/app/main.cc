#include "app/config.h"
#include "app/server.h"

int main(int argc, char** argv) {
  auto parsed = dflockd::app::ParseConfig(argc, argv, DFLOCKD_VERSION);
  if (!parsed.config) return parsed.exit_code;
  return dflockd::app::RunServer(*parsed.config);
}
