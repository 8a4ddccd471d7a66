# prov's runner for Ansible's Python modules on a host (run as `python -S -c <this>`).
#
# stdin: a length line, a JSON header (the module's arguments, its name, where the zip is kept,
# whether to use a fork server), then the zip of the module and its module_utils unless the
# host kept it earlier in the run. The module runs from the zip with ansible-core's runner (or,
# before 2.19, by setting basic._ANSIBLE_ARGS and running it as __main__), with a private temp
# folder as its _ansible_tmpdir, removed afterwards.
#
# Fork server: the first module run under a user and Python in a run also starts a server
# that has ansible.module_utils.basic imported already, listening on a socket in the run's
# private folder of kept zips (0700). Later runs connect to it and hand it their stdin, stdout
# and stderr, environment, folder and umask; it forks a worker that runs the module exactly as
# below and reports its exit status. That saves Python's start and the imports (most of a
# module's time). The server exits when the folder goes (the end of the run) or after 60 s
# without work; a worker is killed when the process that asked for it goes away.
import sys, os

def read_exact(n):
    b = b""
    while len(b) < n:
        c = os.read(0, n - len(b))
        if not c:
            break
        b += c
    return b

def read_header():
    line = b""
    while not line.endswith(b"\n"):
        c = os.read(0, 1)
        if not c:
            break
        line += c
    return read_exact(int(line))

import json
a = json.loads(read_header())
server = a.pop("server", False)

def tmp_root(a):
    t = a["ANSIBLE_MODULE_ARGS"].get("_ansible_remote_tmp") or "~/.ansible/tmp"
    return os.path.expanduser(os.path.expandvars(t))

def socket_path(a):
    c = a.get("cache")
    if not c:
        return None
    import zlib
    name = "fork-%d-%08x.sock" % (os.geteuid(), zlib.crc32(sys.executable.encode()))
    return os.path.join(tmp_root(a), c[0], name)

def ask_server(sp, a):
    """Runs the module in the server's worker; returns only if there is no server."""
    import socket, struct
    if not hasattr(socket, "send_fds") or not os.path.exists(sp):
        return
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(sp)
    except OSError:
        s.close()
        return
    um = os.umask(0)
    os.umask(um)
    msg = json.dumps({"a": a, "env": dict(os.environ), "cwd": os.getcwd(), "umask": um}).encode()
    socket.send_fds(s, [struct.pack("!I", len(msg))], [0, 1, 2])
    s.sendall(msg)
    st = b""
    while len(st) < 4:
        c = s.recv(4 - len(st))
        if not c:
            break
        st += c
    if len(st) == 4:
        os._exit(struct.unpack("!i", st)[0] & 0xFF)
    sys.stderr.write("prov: the fork server lost the module's worker\n")
    os._exit(1)

sp = socket_path(a) if server else None
if sp:
    ask_server(sp, a)

import site
site.main()
import shutil, tempfile, runpy

def add_zip_to_packages(p):
    # packages a server imported from an earlier zip look in this one first (the module and
    # its module_utils are here)
    for name, mod in list(sys.modules.items()):
        if name.split(".")[0] in ("ansible", "ansible_collections"):
            path = getattr(mod, "__path__", None)
            if isinstance(path, list):
                d = os.path.join(p, *name.split("."))
                if d in path:
                    path.remove(d)
                path.insert(0, d)

def run(a, before_module=None):
    m = a.pop("fqn")
    c = a.pop("cache", None)
    try:
        r = tmp_root(a)
        os.makedirs(r, mode=0o700, exist_ok=True)
        d = tempfile.mkdtemp(prefix="ansible-tmp-prov-", dir=r)
    except OSError:
        r = None
        d = tempfile.mkdtemp(prefix="ansible-tmp-prov-")
    try:
        p = None
        kept = False
        if c and r:
            k = os.path.join(r, c[0], c[1] + ".zip")
            if c[2]:
                if not os.path.isfile(k):
                    sys.stderr.write("__prov_payload_missing__\n")
                    sys.exit(125)
                p = k
                kept = True
        if p is None:
            chunks = []
            while True:
                b = os.read(0, 1 << 20)
                if not b:
                    break
                chunks.append(b)
            z = b"".join(chunks)
            if c and r:
                try:
                    os.makedirs(os.path.dirname(k), mode=0o700, exist_ok=True)
                    f, t = tempfile.mkstemp(dir=os.path.dirname(k))
                    with os.fdopen(f, "wb") as f:
                        f.write(z)
                    os.rename(t, k)
                    p = k
                    kept = True
                except OSError:
                    p = None
            if p is None:
                p = os.path.join(d, "prov_payload.zip")
                with open(p, "wb") as f:
                    f.write(z)
        a["ANSIBLE_MODULE_ARGS"]["_ansible_tmpdir"] = d
        b = json.dumps(a).encode()
        sys.path.insert(0, p)
        add_zip_to_packages(p)
        if before_module and kept:
            before_module()
        try:
            from ansible.module_utils._internal._ansiballz import _loader
        except ImportError:
            _loader = None
        if _loader is not None:
            _loader.run_module(json_params=b, profile="legacy", module_fqn=m, modlib_path=p, extensions={})
        else:
            from ansible.module_utils import basic
            basic._ANSIBLE_ARGS = b
            runpy.run_module(m, init_globals=dict(_module_fqn=m, _modlib_path=p), run_name="__main__", alter_sys=True)
    finally:
        shutil.rmtree(d, ignore_errors=True)

def worker(q, fds, done_w):
    for i, fd in enumerate(fds):
        os.dup2(fd, i)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.environ.clear()
    os.environ.update(q["env"])
    os.umask(q["umask"])
    code = 0
    try:
        os.chdir(q["cwd"])
        run(q["a"])
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            sys.stderr.write("%s\n" % e.code)
            code = 1
    except BaseException:
        import traceback
        traceback.print_exc()
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    os._exit(code)

def supervise(conn):
    import socket, select, struct
    head, fds, _, _ = socket.recv_fds(conn, 4, 3)
    while len(head) < 4:
        c = conn.recv(4 - len(head))
        if not c:
            os._exit(0)
        head += c
    n = struct.unpack("!I", head)[0]
    body = b""
    while len(body) < n:
        c = conn.recv(n - len(body))
        if not c:
            os._exit(0)
        body += c
    if len(fds) != 3:
        os._exit(0)
    q = json.loads(body)
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        conn.close()
        os.close(done_r)
        worker(q, fds, done_w)
    os.close(done_w)
    for fd in fds:
        os.close(fd)
    while True:
        r, _, _ = select.select([conn, done_r], [], [])
        if done_r in r:
            break
        if conn in r and not conn.recv(1):
            # the process that asked is gone (killed, timed out): so is its module
            try:
                os.kill(pid, 9)
            except OSError:
                pass
            os.waitpid(pid, 0)
            os._exit(0)
    _, st = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(st)
    try:
        conn.sendall(struct.pack("!i", code if code >= 0 else 128 - code))
    except OSError:
        pass
    os._exit(0)

def serve(sp):
    import socket, select, signal
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(sp)
    except OSError:
        t = socket.socket(socket.AF_UNIX)
        try:
            t.connect(sp)
            os._exit(0)  # another server has it
        except OSError:
            pass
        try:
            os.unlink(sp)
            s.bind(sp)
        except OSError:
            os._exit(0)
    os.chmod(sp, 0o600)
    s.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    idle = 0.0
    while True:
        r, _, _ = select.select([s], [], [], 1.0)
        if not r:
            idle += 1.0
            if idle >= 60 or not os.path.exists(sp):
                os._exit(0)
            continue
        idle = 0.0
        try:
            conn, _ = s.accept()
        except OSError:
            continue
        if os.fork() == 0:
            s.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                supervise(conn)
            finally:
                os._exit(0)
        conn.close()

def start_server():
    # with the module_utils every module needs imported once, here
    try:
        import ansible.module_utils.basic
        try:
            import ansible.module_utils._internal._ansiballz._loader
        except ImportError:
            pass
    except Exception:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid != 0:
        os.waitpid(pid, 0)
        return
    # detached: its own session, none of the caller's files (the caller waits for their end)
    os.setsid()
    if os.fork() != 0:
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    try:
        os.close(null)
    except OSError:
        pass
    try:
        serve(sp)
    finally:
        os._exit(0)

run(a, start_server if sp else None)
