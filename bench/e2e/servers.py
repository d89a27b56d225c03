"""servers.py - how every end-to-end benchmark here starts, pins, measures and stops a server.

One place for what the benchmark scripts share, so that spate and its peers are started the
same way everywhere:

- Launchers (each returns an argv and writes its configuration under a scratch folder):
  spate_cmd, nginx_conf (nginx-light: one worker, open_file_cache on, access_log off;
  nginx_nosendfile_conf the same with sendfile and tcp_nopush off),
  lighttpd_cmd and h2o_cmd (Debian's packages; tools/deps bench installs them). All listen
  on 127.0.0.1 only, with one worker or thread and no access log.
- Server: a server pinned to SERVER_CPU (sched_setaffinity before exec, inherited by every
  thread and child), in its own process group (its leader's pid is the group id), stdout and
  stderr to a file, waited for on its port, and stopped by that pid (SIGTERM to the group,
  SIGKILL after 20 s).
- group_cpu: utime+stime of every process of a group, threads included, from /proc: the
  server's CPU, counted the same way for every server (loopback softirq work that the kernel
  charges to the server's threads included).
- group_fds: each process's open descriptors against its RLIMIT_NOFILE.
- free_port, wait_port, pin (for clients: CLIENT_CPU), OtherCpu (CPU used meanwhile by
  processes that are neither the server nor this script and its children).

Python 3 standard library only. Needs root or the servers' usual permissions: the scratch
folder and docroot must be enterable by the user a server drops to (chmod 755).
"""
import os
import pwd
import signal
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLK = os.sysconf("SC_CLK_TCK")
SERVER_CPU = 0
CLIENT_CPU = 1


def nofile_limit():
    import resource
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def free_port():
    """An ephemeral port that was free on 127.0.0.1 a moment ago (the kernel picked it)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc=None, timeout=10):
    """Returns once something accepts on 127.0.0.1:port; raises if proc exits first or the
    port stays closed for timeout seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited with %s before listening on %d" %
                               (proc.returncode, port))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %d after %ss" % (port, timeout))


def _proc_stats():
    """(pid, pgid, ppid, fields after the command name) of every process in /proc."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                st = f.read()
        except OSError:
            continue  # exited while we looked
        # the command name may hold spaces and parentheses: fields start after the last ')'
        fields = st[st.rindex(")") + 2:].split()
        yield int(pid), int(fields[2]), int(fields[1]), fields


def group_pids(pgid):
    """Pids (as strings) of every process in process group pgid."""
    return [str(pid) for pid, g, _, _ in _proc_stats() if g == pgid]


def group_fds(pgid):
    """[(pid, open descriptors, soft RLIMIT_NOFILE)] of every process in the group: a server
    at its limit refuses work (EMFILE) in ways its answers do not always say (lighttpd's
    stat cache keeps a descriptor per file served and answers 403 once they run out)."""
    out = []
    for pid in group_pids(pgid):
        try:
            n = len(os.listdir("/proc/%s/fd" % pid))
            with open("/proc/%s/limits" % pid) as f:
                lim = next(int(line.split()[3]) for line in f
                           if line.startswith("Max open files"))
        except (OSError, StopIteration, ValueError):
            continue  # exited while we looked, or unlimited
        out.append((int(pid), n, lim))
    return out


def group_cpu(pgid, children=False):
    """utime+stime (seconds) of every process in the group, threads included; with children,
    also what the processes it reaped used (cutime+cstime: CGI scripts)."""
    total = 0
    for _, g, _, fields in _proc_stats():
        if g == pgid:
            total += sum(int(x) for x in fields[11:15 if children else 13])
    return total / CLK


class OtherCpu:
    """CPU seconds used over a window by processes other than the server group, this script
    and what it runs (the client): every user process's utime+stime+cutime+cstime, so that a
    compiler that started and exited meanwhile is still counted through its parent's cutime.
    Kernel threads are left out (ksoftirqd doing the benchmark's loopback work is not another
    load)."""

    def __init__(self, server_pgid):
        self.pgid = server_pgid
        self.t0 = time.monotonic()
        self.c0 = self._cpu()

    def _cpu(self):
        me = os.getpid()
        total = 0
        for pid, g, ppid, fields in _proc_stats():
            if pid == me or g == self.pgid or pid == 2 or ppid == 2:
                continue
            total += sum(int(x) for x in fields[11:15])
        return total / CLK

    def end(self):
        """(wall seconds, other processes' CPU in % of one core) since construction."""
        wall = time.monotonic() - self.t0
        return wall, max(0.0, self._cpu() - self.c0) * 100 / wall


def pin(cpu):
    """A preexec_fn that pins the child (and whatever it starts) to one CPU."""
    return lambda: os.sched_setaffinity(0, {cpu})


# ---------------------------------------------------------------- launchers

def spate_cmd(spate_bin, port, docroot, extra=()):
    """spate with one worker on 127.0.0.1:port serving docroot (access log off by default)."""
    return [os.path.abspath(spate_bin), "--root", docroot, "--listen",
            "127.0.0.1:%d" % port, "--workers", "1"] + list(extra)


def _rundir(tmp, name, port):
    d = os.path.join(tmp, "%s-%d" % (name, port))
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    return d


def nginx_conf(tmp, port, docroot, server="location / { }", sendfile=True):
    """nginx (Debian's nginx-light): a master and one worker, epoll, sendfile and tcp_nopush
    (as Debian's own nginx.conf has them; sendfile=False: both off), keep-alive without a
    request cap, open_file_cache on, access_log off; `server` is the rest of the server block
    (its locations). Returns its argv."""
    t = _rundir(tmp, "nginx", port)
    # every cached entry holds an fd: below the hard limit, leaving room for the sockets,
    # or a tree of many files makes nginx fail with EMFILE and stop accepting
    ofc = max(1000, min(100000, nofile_limit() - 4096))
    conf = os.path.join(t, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""worker_processes 1;
daemon off;
master_process on;
user %(u)s;
pid %(t)s/nginx.pid;
error_log %(t)s/error.log warn;
worker_rlimit_nofile %(n)d;
events { worker_connections 16384; use epoll; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  %(sf)s tcp_nodelay on;
  keepalive_timeout 65s; keepalive_requests 1000000;
  access_log off;
  open_file_cache max=%(ofc)d inactive=60s;
  open_file_cache_valid 60s;
  open_file_cache_errors on;
  client_body_temp_path %(t)s/b; proxy_temp_path %(t)s/p; fastcgi_temp_path %(t)s/f;
  uwsgi_temp_path %(t)s/u; scgi_temp_path %(t)s/s;
  server { listen 127.0.0.1:%(p)d backlog=4096; server_name localhost; root %(r)s;
           %(s)s }
}
""" % {"u": pwd.getpwuid(os.getuid()).pw_name, "t": t, "n": nofile_limit(), "ofc": ofc,
       "p": port, "r": docroot, "s": server,
       "sf": "sendfile on; tcp_nopush on;" if sendfile else "sendfile off; tcp_nopush off;"})
    return ["nginx", "-p", t, "-c", conf]


def lighttpd_cmd(tmp, port, docroot):
    """lighttpd: one process, epoll, sendfile, keep-alive to its cap (65535 requests), no
    access log (mod_accesslog not loaded), index.html for directories. Returns its argv."""
    t = _rundir(tmp, "lighttpd", port)
    conf = os.path.join(t, "lighttpd.conf")
    nofile = min(nofile_limit(), 16384)
    with open(conf, "w") as f:
        f.write('server.modules = ( )\n'
                'server.document-root = "%s"\nserver.bind = "127.0.0.1"\nserver.port = %d\n'
                'server.pid-file = "%s/lighttpd.pid"\nserver.errorlog = "%s/error.log"\n'
                'server.event-handler = "linux-sysepoll"\nserver.network-backend = "sendfile"\n'
                'server.max-fds = %d\nserver.max-connections = %d\n'
                'server.listen-backlog = 4096\n'
                'server.max-keep-alive-requests = 65535\nserver.max-keep-alive-idle = 60\n'
                'index-file.names = ( "index.html" )\n'
                'mimetype.assign = (".html" => "text/html", ".txt" => "text/plain", '
                '".bin" => "application/octet-stream", "" => "application/octet-stream")\n'
                % (docroot, port, t, t, nofile, nofile // 2 - 16))
    return ["lighttpd", "-D", "-f", conf]


def h2o_cmd(tmp, port, docroot):
    """h2o (Debian's 2.2): one thread, no access log, file.dir on docroot. Returns its argv."""
    t = _rundir(tmp, "h2o", port)
    conf = os.path.join(t, "h2o.conf")
    with open(conf, "w") as f:
        # user: this one (h2o drops to it); pid-file in its own folder, which that user owns
        f.write("num-threads: 1\nuser: %s\nmax-connections: 65536\n"
                "pid-file: %s/h2o.pid\nerror-log: %s/error.log\n"
                "http1-request-timeout: 60\n"
                "listen:\n  host: 127.0.0.1\n  port: %d\n"
                'hosts:\n  "default":\n    paths:\n      /:\n        file.dir: %s\n'
                % (pwd.getpwuid(os.getuid()).pw_name, t, t, port, docroot))
    return ["h2o", "-c", conf]


def nginx_nosendfile_conf(tmp, port, docroot):
    """nginx as nginx_conf has it but with sendfile and tcp_nopush off: for files of a few KiB
    a read into its buffer and one writev cost it less than sendfile (about 0.65x the CPU per
    1 KiB request here), and pipelined responses are not held back by the cork (the `pipe`
    scenario stalls at ~23k req/s with it on, both sides idle)."""
    return nginx_conf(tmp, port, docroot, sendfile=False)


LAUNCHERS = {"nginx": nginx_conf, "nginx-nosendfile": nginx_nosendfile_conf,
             "lighttpd": lighttpd_cmd, "h2o": h2o_cmd}
# the program each named server runs, where its name is not that program's
BINARY = {"nginx-nosendfile": "nginx"}


def server_cmd(name, tmp, port, docroot, spate_bin=None, spate_args=()):
    """argv of a named server (spate, nginx, nginx-nosendfile, lighttpd, h2o) on port
    serving docroot."""
    if name == "spate":
        return spate_cmd(spate_bin or os.path.join(ROOT, "build-rel", "spate"), port, docroot,
                         spate_args)
    return LAUNCHERS[name](tmp, port, docroot)


# ---------------------------------------------------------------- running one

class Server:
    """A server process pinned to cpu, in its own process group, waited for on its port (or
    each of a list of ports).

    with Server(argv, port, log=PATH) as s: ... s.cpu() ...   (stopped on exit)
    """

    def __init__(self, argv, port, log=None, cpu=None, env=None, wait=True, timeout=10):
        self.argv = argv
        self.port = port
        ports = port if isinstance(port, (list, tuple)) else [port]
        self.log = log
        out = open(log, "wb") if log else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         preexec_fn=pin(SERVER_CPU if cpu is None else cpu),
                                         env=env)
        finally:
            if log:
                out.close()
        self.pid = self.proc.pid  # also the process group's id (start_new_session)
        if wait:
            try:
                for p in ports:
                    wait_port(p, self.proc, timeout)
            except Exception:
                self.stop()
                raise

    def cpu(self, children=False):
        """CPU seconds the whole group has used so far."""
        return group_cpu(self.pid, children)

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self, n=400):
        """The last n bytes the server wrote, for error messages."""
        if not self.log:
            return ""
        try:
            with open(self.log, "rb") as f:
                return f.read()[-n:].decode(errors="replace").strip()
        except OSError:
            return ""

    def stop(self, timeout=20):
        """SIGTERM to the group, SIGKILL if it is not gone in timeout s; returns the exit
        status of the leader."""
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
