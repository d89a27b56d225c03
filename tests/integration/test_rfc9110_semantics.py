"""RFC 9110: methods (9), Expect (10.1.1), status codes (15) as a static server applies them."""
from conftest import raw, split_responses, spate_conf, status_line, read_until_close


def test_9_3_7_options(spate):
    data = raw(spate, b"OPTIONS /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
               shut=False)
    status, headers, body = split_responses(data)[0]
    assert status == 200 and headers["allow"] == ["GET, HEAD, OPTIONS"] and body == b""
    assert headers["content-length"] == ["0"]
    data = raw(spate, b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", shut=False)
    assert status_line(data) == b"HTTP/1.1 200 OK"
    # "*" is only for OPTIONS
    data = raw(spate, b"GET * HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_line(data).startswith(b"HTTP/1.1 400")


def test_9_3_8_trace_refused_by_default(spate):
    data = raw(spate, b"TRACE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", shut=False)
    status, headers, _ = split_responses(data)[0]
    assert status == 405 and "TRACE" not in headers["allow"][0]


def test_9_3_8_trace_enabled_echoes_request(tmp_path, docroot):
    s = spate_conf(tmp_path, docroot, main="trace on;")
    try:
        req = b"TRACE /x?y HTTP/1.1\r\nHost: x\r\nX-Probe: 123\r\nConnection: close\r\n\r\n"
        status, headers, body = split_responses(raw(s, req, shut=False))[0]
        assert status == 200 and headers["content-type"] == ["message/http"]
        assert body == req
        data = raw(s, b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", shut=False)
        assert b"Allow: GET, HEAD, OPTIONS, TRACE" in data
    finally:
        rc, err = s.stop()
    assert rc == 0, err


def test_9_1_unknown_method_501_keeps_connection(spate):
    data = raw(spate, b"PROPFIND /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", shut=False)
    assert [r[0] for r in split_responses(data)] == [501, 200]


def test_15_5_6_405_with_allow(spate):
    for m in [b"PUT", b"DELETE", b"PATCH", b"CONNECT"]:
        target = b"x:443" if m == b"CONNECT" else b"/hello.txt"
        data = raw(spate, m + b" " + target + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                   b"Connection: close\r\n\r\n", shut=False)
        status, headers, _ = split_responses(data)[0]
        assert status == 405 and headers["allow"] == ["GET, HEAD, OPTIONS"], m


def test_15_5_12_post_without_length_411(spate):
    data = raw(spate, b"POST /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_line(data) == b"HTTP/1.1 411 Length Required"
    data = raw(spate, b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                      b"Connection: close\r\n\r\n", shut=False)
    assert status_line(data).startswith(b"HTTP/1.1 405")


def test_10_1_1_expect_100_continue(spate):
    # answered with the final status without reading the body, and the connection closes
    s = spate.connect()
    s.sendall(b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
              b"Expect: 100-continue\r\n\r\n")
    s.settimeout(5)
    data = read_until_close(s)
    assert status_line(data).startswith(b"HTTP/1.1 405")
    assert b"Connection: close" in data
    s.close()
    # Expect on a request without a body changes nothing
    data = raw(spate, b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      b"Connection: close\r\n\r\n", shut=False)
    assert status_line(data) == b"HTTP/1.1 200 OK"


def test_10_1_1_other_expectation_417(spate):
    data = raw(spate, b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n")
    assert status_line(data) == b"HTTP/1.1 417 Expectation Failed"


def test_9_3_2_head_of_error_has_no_body(spate):
    data = raw(spate, b"HEAD /missing HTTP/1.1\r\nHost: x\r\n\r\n"
                      b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", shut=False)
    first, _, rest = data.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 404") and rest.startswith(b"HTTP/1.1 200")
