"""RFC 9112 sections 6 and 7: message body length, chunked coding, smuggling defenses."""
import socket
import time

import pytest

from conftest import raw, split_responses, spate_conf, status_line, read_until_close


def one(spate, req):
    return raw(spate, req, shut=False)


# ---- 6.3 Content-Length bodies ---------------------------------------------------------------

def test_6_3_content_length_body_is_skipped(spate):
    body = b"GET /evil HTTP/1.1\r\nHost: x\r\n\r\n"
    data = one(spate, b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                      b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
               % (len(body), body))
    resps = split_responses(data)
    assert [r[0] for r in resps] == [405, 200]  # the body was never parsed as a request


def test_6_3_identical_content_lengths_accepted(spate):
    data = one(spate, b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n"
                      b"Content-Length: 3\r\nConnection: close\r\n\r\nabc")
    assert status_line(data) == b"HTTP/1.1 200 OK"


@pytest.mark.parametrize("cl", [b"3\r\nContent-Length: 4", b"3, 4", b"+3", b"-3", b" 3 3",
                                b"3x", b"0x3", b"3.0", b"", b"99999999999999999999"])
def test_6_3_bad_content_length(spate, cl):
    data = one(spate, b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: " + cl +
               b"\r\n\r\nabcGET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_line(data) in (b"HTTP/1.1 400 Bad Request", b"HTTP/1.1 413 Content Too Large")
    assert data.count(b"HTTP/1.1") == 1  # closed: nothing after it was parsed


# ---- 6.1 Transfer-Encoding ------------------------------------------------------------------

def test_6_1_te_with_content_length_is_400(spate):
    data = one(spate, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_line(data).startswith(b"HTTP/1.1 400")
    assert data.count(b"HTTP/1.1") == 1


@pytest.mark.parametrize("te,status", [(b"chunked, gzip", 400), (b"identity", 400),
                                       (b"chunked\r\nTransfer-Encoding: chunked", 400),
                                       (b"gzip, chunked", 501), (b"x\x01y, chunked", 400)])
def test_6_1_transfer_codings(spate, te, status):
    data = one(spate, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te +
               b"\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_line(data).startswith(b"HTTP/1.1 %d" % status)
    assert data.count(b"HTTP/1.1") == 1


@pytest.mark.parametrize("te", [
    b"Transfer-Encoding: ,chunked",
    b"Transfer-Encoding: chunked,",
    b"Transfer-Encoding: chunked, ,",
    b"Transfer-Encoding: , chunked",
    b"Transfer-Encoding:\r\nTransfer-Encoding: chunked",     # one field line empty
    b"Transfer-Encoding: chunked\r\nTransfer-Encoding: ",
    b"Transfer-Encoding: gzip,\r\nTransfer-Encoding: chunked",  # one ends in a comma
])
def test_6_1_empty_transfer_coding_elements_are_400(spate, te):
    # proxies disagree on whether ",chunked" means chunked: refuse it, then close
    s = spate.connect()
    s.sendall(b"POST /hello.txt HTTP/1.1\r\nHost: x\r\n" + te +
              b"\r\n\r\n0\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(5)
    data = read_until_close(s)  # a timeout here means the connection stayed open
    s.close()
    assert status_line(data) == b"HTTP/1.1 400 Bad Request", te
    assert data.count(b"HTTP/1.1") == 1  # nothing after the bad head was parsed


def test_6_1_transfer_encoding_in_http10_is_400(spate):
    data = one(spate, b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert status_line(data).startswith(b"HTTP/1.1 400")


# ---- 7.1 chunked ----------------------------------------------------------------------------

def test_7_1_chunked_body_with_extensions_and_trailers(spate):
    body = (b"4;name=value\r\nWiki\r\n5 ; a=\"q;x\"\r\npedia\r\n0\r\n"
            b"X-Checksum: 42\r\nExpires: never\r\n\r\n")
    data = one(spate, b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               + body + b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert [r[0] for r in split_responses(data)] == [405, 200]


def test_7_1_chunked_body_arriving_slowly(spate):
    s = spate.connect()
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    first = s.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    body = b"a\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n"
    for i in range(len(body)):
        s.sendall(body[i:i + 1])
        time.sleep(0.003)
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    rest = read_until_close(s)
    assert rest.startswith(b"HTTP/1.1 200") and rest.endswith(b"hello, world\n")
    s.close()


@pytest.mark.parametrize("body,status", [
    (b"ffffffffffffffffffff\r\n", 400),            # chunk size overflows
    (b"5\nhello\r\n0\r\n\r\n", 400),                # bare LF in chunked framing
    (b"5\r\nhelloXX\r\n0\r\n\r\n", 400),            # data longer than announced
    (b"zz\r\n", 400),
    (b"5;\r\nhello\r\n0\r\n\r\n", 400),
    (b"0\r\nX: 1\r\n folded\r\n\r\n", 400),         # obs-fold in trailers
    (b"200000\r\n", 413),                           # over client_max_body_size (1m)
])
def test_7_1_bad_chunked_body(spate, body, status):
    data = one(spate, b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               + body + b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_line(data).startswith(b"HTTP/1.1 %d" % status)
    assert data.count(b"HTTP/1.1") == 1


def test_7_1_bad_chunk_after_response_closes(spate):
    # the head is answered at once; a framing error found later closes the connection
    s = spate.connect()
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert s.recv(65536).startswith(b"HTTP/1.1 200")
    s.sendall(b"3\r\nabc\r\nnot-hex\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(5)
    rest = read_until_close(s)
    assert rest == b""  # closed, and the smuggled request was not answered
    s.close()


def test_pipelining_with_bodies(spate):
    reqs = []
    for i in range(30):
        if i % 3 == 0:
            reqs.append(b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\nbody=%02d"
                        % i)
        elif i % 3 == 1:
            reqs.append(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"2\r\n%02d\r\n0\r\n\r\n" % i)
        else:
            reqs.append(b"GET /hello.txt?%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
    reqs.append(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = one(spate, b"".join(reqs))
    statuses = [r[0] for r in split_responses(data)]
    assert statuses == [405 if i % 3 == 0 else 200 for i in range(30)] + [200]


def test_content_length_over_limit_413(tmp_path, docroot):
    s = spate_conf(tmp_path, docroot, main="client_max_body_size 100;")
    try:
        data = raw(s, b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n")
        assert status_line(data).startswith(b"HTTP/1.1 413")
        data = raw(s, b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                      b"Connection: close\r\n\r\n" + b"x" * 100)
        assert status_line(data).startswith(b"HTTP/1.1 405")
        data = raw(s, b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"65\r\n")
        assert status_line(data).startswith(b"HTTP/1.1 413")
    finally:
        rc, err = s.stop()
    assert rc == 0, err
