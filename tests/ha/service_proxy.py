"""A stand-in for a Kubernetes Service in front of a durable shard's replicas: each new
connection goes to a random replica that accepts it (a dead one refuses: the next is
tried), and lives as long as both ends do. Threads; for tests only."""
import random
import socket
import threading


class ServiceProxy:
    def __init__(self, backends):
        self.backends = list(backends)  # [(host, port)]
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        self.closed = False
        self.pairs = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = self._connect()
            if upstream is None:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _connect(self):
        for host, port in random.sample(self.backends, len(self.backends)):
            try:
                return socket.create_connection((host, port), timeout=1)
            except OSError:
                continue
        return None

    @staticmethod
    def _pipe(src, dst):
        src.settimeout(None)
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.closed = True
        self.sock.close()
        with self.lock:
            for a, b in self.pairs:
                a.close()
                b.close()
