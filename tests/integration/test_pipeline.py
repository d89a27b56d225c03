"""Pipelining (RFC 9112 9.3.2): every request answered, in order, however the bytes arrive."""
import time

from conftest import raw, split_responses, read_until_close


def test_100_pipelined_in_one_write(spate, docroot):
    paths = ["/hello.txt", "/nope", "/style.css", "/index.html", "/dir/"] * 20
    req = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in paths)
    req += b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data = raw(spate, req, shut=False, timeout=10)
    resps = split_responses(data)
    assert len(resps) == 101
    want = {"/hello.txt": (200, b"hello, world\n"), "/nope": (404, None),
            "/style.css": (200, (docroot / "style.css").read_bytes()),
            "/index.html": (200, (docroot / "index.html").read_bytes()),
            "/dir/": (200, (docroot / "dir" / "index.html").read_bytes())}
    for p, (status, headers, body) in zip(paths, resps):
        ws, wb = want[p]
        assert status == ws, p
        if wb is not None:
            assert body == wb, p


def test_pipelined_large_responses_in_order(spate, docroot):
    # responses bigger than the output block force the backpressure path
    big = (docroot / "medium.bin").read_bytes()
    req = b"".join([b"GET /medium.bin HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"] * 30)
    req += b"GET /image.png HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data = raw(spate, req, shut=False, timeout=30)
    resps = split_responses(data)
    assert len(resps) == 61
    for i in range(30):
        assert resps[2 * i][2] == big
        assert resps[2 * i + 1][2] == b"hello, world\n"
    assert resps[60][2] == (docroot / "image.png").read_bytes()


def test_pipeline_split_across_writes(spate):
    req = b"".join(b"GET /hello.txt?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(50))
    req += b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    s = spate.connect()
    # odd-sized pieces so requests straddle writes
    for i in range(0, len(req), 37):
        s.sendall(req[i:i + 37])
        if i % 370 == 0:
            time.sleep(0.001)
    data = read_until_close(s)
    s.close()
    resps = split_responses(data)
    assert len(resps) == 51
    assert all(r[0] == 200 and r[2] == b"hello, world\n" for r in resps)


def test_many_pipelined_without_reading(spate):
    # a client that writes 2000 requests before reading anything is still answered in full
    n = 2000
    req = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n" * n
    req += b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    s = spate.connect(timeout=20)
    s.sendall(req)
    data = read_until_close(s)
    s.close()
    assert len(split_responses(data)) == n + 1
