# Sourced by the bench/*.sh comparisons: servers started in the background are
# stopped on exit, and a helper waits for a port to accept.
PIDS=()
stop_servers() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop_servers EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; }
# Server logs go to $LOGS.<name> when LOGS is set.
log_file() { if [ -n "${LOGS:-}" ]; then echo "$LOGS.$1"; else echo /dev/null; fi; }
# ../shared/tools' ceiling server and lean_load ($SHARED), compiled into $tools, and a
# scratch file $results; both go away on exit, with the servers.
ceiling_tools() {
  tools=$(mktemp -d)
  results=$(mktemp)
  trap 'stop_servers; rm -rf "$tools" "$results"' EXIT
  gcc -O2 -o "$tools/ceiling" "$SHARED/ceiling_server.c"
  gcc -O2 -o "$tools/lean" "$SHARED/lean_load.c"
}
