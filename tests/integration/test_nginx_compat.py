"""Pasted nginx configurations (docs/config.md, "nginx compatibility").

A distribution-style nginx.conf (Debian's layout: worker_processes, events, http with the
performance no-ops, conf.d/*.conf and sites-enabled/*, a snippet included nginx's way from a
site file) is served as it is, and the directives spate does not have are named in one
line with file:line by -t.
"""
import http.client
import os
import subprocess

from conftest import BIN, Spate, make_docroot

NGINX_CONF = """\
# as Debian's /etc/nginx/nginx.conf, paths moved into the test directory
worker_processes 2;
pid {d}/nginx.pid;
error_log {d}/error.log;
include {d}/modules-enabled/*.conf;

events {{
\tworker_connections 768;
\t# multi_accept on;
}}

http {{

\t##
\t# Basic Settings
\t##

\tsendfile on;
\ttcp_nopush on;
\ttypes_hash_max_size 2048;
\tserver_tokens off;

\tserver_names_hash_bucket_size 64;

\tinclude {d}/mime.types;
\tdefault_type application/octet-stream;

\t##
\t# Logging Settings
\t##

\taccess_log {d}/access.log;

\t##
\t# Virtual Host Configs
\t##

\tinclude conf.d/*.conf;
\tinclude sites-enabled/*;
}}

#mail {{
#\tserver {{ listen localhost:110; protocol pop3; }}
#}}
"""

SITE = """\
server {{
\tlisten 127.0.0.1:0 default_server;

\troot {www};

\t# Add index.php to the list if you are using PHP
\tindex index.html index.htm index.nginx-debian.html;

\tserver_name _;

\tinclude snippets/headers.conf;

\tlocation /dir/ {{
\t\texpires 1h;
\t}}
}}
"""


def write_tree(tmp_path, site_extra=""):
    """The nginx.conf tree under tmp_path/nginx; returns the path of nginx.conf."""
    d = tmp_path / "nginx"
    for sub in ("conf.d", "sites-available", "sites-enabled", "snippets", "modules-enabled"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    www = tmp_path / "www"
    if not www.exists():
        make_docroot(www)
    (d / "nginx.conf").write_text(NGINX_CONF.format(d=d))
    (d / "conf.d" / "timeouts.conf").write_text("keepalive_timeout 65;\ntcp_nodelay on;\n")
    (d / "sites-available" / "default").write_text(SITE.format(www=www) + site_extra)
    os.symlink(str(d / "sites-available" / "default"), str(d / "sites-enabled" / "default"))
    (d / "snippets" / "headers.conf").write_text("add_header X-Snippet yes;\n")
    # nginx's own mime.types format: a types block in a file of its own
    (d / "mime.types").write_text("\ntypes {\n    text/html  html htm shtml;\n"
                                  "    text/plain txt;\n    image/x-spate  spt;\n}\n")
    return d / "nginx.conf"


def line_of(path, needle):
    """The 1-based line of path where needle first appears."""
    for n, line in enumerate(open(path).read().splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError("%r not in %s" % (needle, path))


def run_t(conf):
    return subprocess.run([BIN, "-t", "-c", str(conf)], capture_output=True, timeout=60)


def test_distribution_nginx_conf_serves(tmp_path):
    conf = write_tree(tmp_path)
    r = run_t(conf)
    assert r.returncode == 0, r.stderr
    assert b"is valid" in r.stdout
    # the no-ops are named, with their file and line, not dropped silently
    assert ('[notice] %s:%d: "tcp_nopush" has no effect: '
            % (conf, line_of(conf, "tcp_nopush"))).encode() in r.stderr
    tuning = tmp_path / "nginx" / "conf.d" / "timeouts.conf"
    assert ('%s:2: "tcp_nodelay" has no effect' % tuning).encode() in r.stderr
    assert b'"worker_connections"' not in r.stderr  # that one has an effect: max_connections

    s = Spate(["-c", str(conf)]).start()
    try:
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        c.request("GET", "/")
        resp = c.getresponse()
        body = resp.read()
        assert resp.status == 200 and b"<title>home</title>" in body
        assert resp.getheader("X-Snippet") == "yes"  # included from the site file
        c.request("GET", "/dir/sub/file.txt")
        resp = c.getresponse()
        assert resp.read() == b"deep file\n"
        assert resp.getheader("Cache-Control") == "max-age=3600"
        (tmp_path / "www" / "pic.spt").write_bytes(b"x")
        c.request("GET", "/pic.spt")
        resp = c.getresponse()
        resp.read()
        assert resp.getheader("Content-Type") == "image/x-spate"  # the included mime.types
        c.request("GET", "/pic.unknown-ext")
        resp = c.getresponse()
        resp.read()
        assert resp.status == 404
        c.close()
    finally:
        rc, err = s.stop()
    assert rc == 0, err
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err
    log = (tmp_path / "nginx" / "error.log").read_text()
    assert '[notice]' in log and '"server_tokens" has no effect: ' in log, log
    assert '"types_hash_max_size" has no effect' in log
    assert "GET / HTTP/1.1" in (tmp_path / "nginx" / "access.log").read_text()


def one_error(r):
    """-t failed with exactly one line on stderr; returns it."""
    assert r.returncode != 0, r.stdout
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_unsupported_directive_names_file_line_and_instead(tmp_path):
    conf = write_tree(tmp_path, "\nserver {\n\tlisten 127.0.0.1:0;\n\troot /tmp;\n"
                                "\tgzip on;\n}\n")
    site = tmp_path / "nginx" / "sites-enabled" / "default"
    line = one_error(run_t(conf))
    assert line == ('spate: %s:%d: "gzip" is not supported yet: spate does not compress '
                    'responses' % (site, line_of(site, "gzip"))), line
    # what to use instead, where spate has it
    (tmp_path / "nginx" / "conf.d" / "limits.conf").write_text("\nworker_rlimit_nofile 8192;\n")
    site.unlink()
    line = one_error(run_t(conf))
    assert line.startswith('spate: %s:2: "worker_rlimit_nofile" is not supported: '
                           % (tmp_path / "nginx" / "conf.d" / "limits.conf")), line
    assert "raise that instead" in line
    (tmp_path / "nginx" / "conf.d" / "limits.conf").write_text(
        "large_client_header_buffers 4 8k;\n")
    assert "use header_max and request_line_max" in one_error(run_t(conf))


def test_include_errors(tmp_path):
    conf = write_tree(tmp_path)
    d = tmp_path / "nginx"
    # a cycle is an error at the include line, not a hang
    (d / "conf.d" / "loop.conf").write_text("# loops\ninclude conf.d/loop.conf;\n")
    line = one_error(run_t(conf))
    assert line.startswith("spate: %s:2: include cycle: " % (d / "conf.d" / "loop.conf")), line
    (d / "conf.d" / "loop.conf").unlink()
    # a missing plain file is an error at the include line
    (d / "snippets" / "headers.conf").unlink()
    site = d / "sites-enabled" / "default"
    line = one_error(run_t(conf))
    assert line == ('spate: %s:%d: cannot open included file "snippets/headers.conf": neither '
                    '"%s" nor "%s" exists' % (site, line_of(site, "snippets/headers.conf"),
                                              d / "sites-enabled" / "snippets" / "headers.conf",
                                              d / "snippets" / "headers.conf")), line
    # a glob that matches nothing is fine (modules-enabled/*.conf already is one)
    (d / "snippets" / "headers.conf").write_text("include ../nothing/*.conf;\n")
    r = run_t(conf)
    assert r.returncode == 0, r.stderr
