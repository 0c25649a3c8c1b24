#!/usr/bin/env python3
"""A bounded local load generator: THREADS keep-alive HTTPS connections to ADDR:443
with SNI and Host NAME, GET PATH as fast as answers come, for SECONDS. Prints one JSON
line: requests, errors, requests per second. Certificates are not checked (Caddy's
internal CA)."""
import http.client, json, socket, ssl, sys, threading, time

addr, name, path, threads, seconds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


class Conn(http.client.HTTPSConnection):
    def connect(self):
        sock = socket.create_connection((addr, 443), timeout=10)
        self.sock = ctx.wrap_socket(sock, server_hostname=name)


counts = [[0, 0] for _ in range(threads)]
stop = time.monotonic() + seconds


def worker(i):
    conn = Conn(name, 443, timeout=10)
    while time.monotonic() < stop:
        try:
            conn.request("GET", path, headers={"Host": name})
            r = conn.getresponse()
            r.read()
            counts[i][0 if r.status == 200 else 1] += 1
        except Exception:
            counts[i][1] += 1
            conn.close()
            conn = Conn(name, 443, timeout=10)


start = time.monotonic()
ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
elapsed = time.monotonic() - start
ok = sum(c[0] for c in counts)
err = sum(c[1] for c in counts)
print(json.dumps({"requests": ok, "errors": err, "rps": round(ok / elapsed, 1), "seconds": round(elapsed, 1)}))
