"""A loopback HTTP server that serves one checkpoint body, for download tests."""

from __future__ import annotations

import http.server
import socket
import threading


class CheckpointServer:
    """Serves ``body`` for any path; ``mode`` "ok", "corrupt", "drop" or "missing" (404)."""

    def __init__(self, body: bytes):
        self.body = body
        self.mode = "ok"
        self.requests: list[dict] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append({"path": self.path, "range": self.headers.get("Range")})
                if server.mode == "missing":
                    self.send_error(404, "Not Found")
                    return
                data = server.body
                if server.mode == "corrupt":
                    data = bytes(len(data))
                start = 0
                rng = self.headers.get("Range")
                if rng and server.mode == "ok":
                    start = int(rng.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if server.mode == "drop":  # half the body, then hang up
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(data[start:])

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
