# prov's bridge to Ansible's controller-side Python plugins (filters, tests, lookups, action
# plugins, connection plugins). Part of prov (Apache-2.0); it imports ansible-core at run time
# and calls it.
#
# Protocol: one JSON object per line. prov sends a request ({"op": "filter" | "test" |
# "lookup" | "action" | "conn_open" | "conn_exec" | "conn_put" | "conn_fetch" | "conn_close",
# ...}); the bridge answers with {"op": "result", "value": ...} or
# {"op": "error", "kind": "load" | "notfound" | "runtime" | "unreachable" | "missing",
# "msg": ...}. While it works it may ask prov things first ({"op": "var"}, {"op": "names"},
# {"op": "exec"}, {"op": "put"}, {"op": "fetch"}); prov answers each with one line.
import base64
import json
import os
import sys

_out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
_in = os.fdopen(os.dup(sys.stdin.fileno()), "r", encoding="utf-8")
# Whatever Python code prints goes to stderr, and it reads nothing: stdin and stdout are the
# protocol's.
os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, sys.stdin.fileno())


_encoder = None


def _send(obj):
    _out.write(json.dumps(obj, cls=_encoder, default=None if _encoder else _default) + "\n")
    _out.flush()


def _recv():
    line = _in.readline()
    if not line:
        sys.exit(0)
    return json.loads(line)


def _ask(obj):
    _send(obj)
    reply = _recv()
    if "error" in reply:
        raise Exception(reply["error"])
    return reply


def _default(o):
    kind = type(o).__name__
    if hasattr(o, "event") and kind.endswith("Summary"):
        # ansible-core's error, warning and deprecation objects, tagged as modules send them.
        kind = "ErrorSummary" if "Error" in kind else "WarningSummary" if "Warning" in kind else "DeprecationSummary"
        ev = o.event
        d = {
            "__ansible_type": kind,
            "event": {"__ansible_type": "Event", "msg": getattr(ev, "msg", None), "formatted_traceback": getattr(ev, "formatted_traceback", None)},
        }
        for k in ("version", "date"):
            if getattr(o, k, None) is not None:
                d[k] = getattr(o, k)
        return d
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if isinstance(o, bytes):
        return o.decode("utf-8", "surrogateescape")
    if hasattr(o, "keys") and hasattr(o, "__getitem__"):
        return {k: o[k] for k in o.keys()}
    if hasattr(o, "__iter__") and not isinstance(o, str):
        return list(o)
    if hasattr(o, "isoformat"):
        return o.isoformat()
    return str(o)


def _task_failed(ex):
    """The message of a task whose action raised, as Ansible words it: 'Task failed: ' and the
    exception's messages, the last one keeping its final period."""
    last = ex
    seen = set()
    while id(last) not in seen:
        seen.add(id(last))
        nxt = last.__cause__ or (None if last.__suppress_context__ else last.__context__)
        if nxt is None:
            break
        last = nxt
    end = str(getattr(last, "message", None) or last).strip()
    return "Task failed: %s%s" % (_chain(ex), "." if end.endswith(".") else "")


def _chain(ex):
    """An exception's message and its causes', as Ansible joins them."""
    parts = []
    seen = set()
    while ex is not None and id(ex) not in seen:
        seen.add(id(ex))
        m = getattr(ex, "message", None) or str(ex)
        m = str(m).strip()
        if m and (not parts or m not in parts[-1]):
            parts.append(m.rstrip("."))
        ex = ex.__cause__ or (None if ex.__suppress_context__ else ex.__context__)
    return ": ".join(parts)


try:
    from ansible import constants as C  # noqa: F401
    from ansible.plugins import loader as _loader
except ImportError as _e:
    _send({"op": "error", "kind": "missing", "msg": "ansible-core is not importable by %s: %s" % (sys.executable, _e)})
    sys.exit(1)

try:
    # Values without ansible-core's data tags; its warning, deprecation and error objects as
    # modules send them (see _default).
    from ansible.module_utils.common.json import get_encoder

    class _Encoder(get_encoder("tagless")):
        def default(self, o):
            try:
                return super().default(o)
            except TypeError:
                return _default(getattr(o, "wrapped", o))

    _encoder = _Encoder
except ImportError:
    pass

_loader.init_plugin_loader()
_dirs = set()


def _add_dirs(dirs):
    for d in dirs or []:
        if d not in _dirs and os.path.isdir(d):
            _dirs.add(d)
            _loader.add_all_plugin_dirs(d)


class _Lazy(dict):
    """A mapping whose items are fetched from prov the first time each is read."""

    def _one(self, k):
        raise KeyError(k)

    def _names(self):
        return []

    def _fill(self, k):
        if not dict.__contains__(self, k):
            dict.__setitem__(self, k, self._one(k))

    def __getitem__(self, k):
        self._fill(k)
        return dict.__getitem__(self, k)

    def get(self, k, default=None):
        try:
            return self[k]
        except KeyError:
            return default

    def __contains__(self, k):
        try:
            self._fill(k)
            return True
        except KeyError:
            return False

    def _known(self):
        if not hasattr(self, "_names_cache"):
            self._names_cache = list(self._names())
        return self._names_cache

    def _all(self):
        for n in self._known():
            try:
                self._fill(n)
            except KeyError:
                pass

    def keys(self):
        # The names only: each value is asked for when it is read.
        return list(dict.fromkeys(list(dict.keys(self)) + self._known()))

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.keys())

    def __bool__(self):
        return True

    def items(self):
        self._all()
        return dict.items(self)

    def values(self):
        self._all()
        return dict.values(self)

    def copy(self):
        self._all()
        return dict(dict.items(self))


class _HostVars(_Lazy):
    """`hostvars`: each host's variables, asked of prov when read."""

    def _one(self, k):
        if k not in self._known() and not _ask({"op": "names", "host": k}).get("value"):
            raise KeyError(k)
        return _Vars(k)

    def _names(self):
        return _ask({"op": "hosts"})["value"]


class _Vars(_Lazy):
    """A task's variables (or another host's, for `hostvars`), asked of prov when read."""

    def __init__(self, host=None):
        super().__init__()
        self._host = host

    def _q(self, q):
        if self._host is not None:
            q["host"] = self._host
        return _ask(q)

    def _one(self, k):
        if k == "hostvars":
            return _HostVars()
        r = self._q({"op": "var", "name": k})
        if not r.get("defined"):
            raise KeyError(k)
        return r["value"]

    def _names(self):
        return self._q({"op": "names"})["value"]


def _jinja(kind, req):
    ld = _loader.filter_loader if kind == "filter" else _loader.test_loader
    name = req["name"]
    try:
        try:
            inst = ld.get(name)
        except KeyError:
            # An invalid plugin name: not found, as Ansible's templating reads it.
            inst = None
        if inst is not None:
            inst.accept_args_markers
    except Exception as ex:
        return {"op": "error", "kind": "load", "msg": "The %s plugin %r failed to load: %s" % (kind, name, _chain(ex))}
    if inst is None:
        return {"op": "error", "kind": "notfound", "msg": "No %s named %r." % (kind, name)}
    try:
        value = inst.j2_function(*req.get("args", []), **req.get("kwargs", {}))
    except Exception as ex:
        return {"op": "error", "kind": "runtime", "msg": "The %s plugin %r failed: %s" % (kind, name, _chain(ex))}
    if kind == "test":
        value = bool(value)
    return {"op": "result", "value": value}


def _dataloader(base):
    from ansible.parsing.dataloader import DataLoader

    dl = DataLoader()
    if base:
        dl.set_basedir(base)
    return dl


def _lookup(req):
    from ansible.template import Templar

    name = req["name"]
    variables = _Vars()
    dl = _dataloader(req.get("base"))
    try:
        inst = _loader.lookup_loader.get(name, loader=dl, templar=Templar(loader=dl, variables=variables))
    except Exception as ex:
        return {"op": "error", "kind": "load", "msg": "The lookup plugin %r failed to load: %s" % (name, _chain(ex))}
    if inst is None:
        return {"op": "error", "kind": "notfound", "msg": "The lookup plugin %r was not found." % name}
    terms = [_to_marker(t) for t in req.get("terms", [])]
    kwargs = {k: _to_marker(v) for k, v in req.get("kwargs", {}).items()}
    # As Ansible: a plugin that does not accept markers given one (at the top) is not run.
    if not getattr(inst, "accept_args_markers", False) and any(
        _is_marker(x) for x in list(terms) + list(kwargs.values())
    ):
        return {"op": "result", "value": {_MARKER: True}}
    try:
        value = inst.run(terms, variables=variables, **kwargs)
    except Exception as ex:
        return {"op": "error", "kind": "runtime", "msg": "The lookup plugin %r failed: %s" % (name, _chain(ex))}
    return {"op": "result", "value": _from_marker(value)}


_MARKER = "__prov_undefined_marker__"


def _marker_class():
    try:
        from ansible._internal._templating._jinja_common import Marker, UndefinedMarker
        return Marker, UndefinedMarker
    except Exception:
        return None, None


def _is_marker(v):
    marker, _ = _marker_class()
    return marker is not None and isinstance(v, marker)


def _to_marker(v):
    """prov's stand-in for an undefined value becomes Ansible's UndefinedMarker."""
    if isinstance(v, dict):
        if _MARKER in v:
            _, undefined = _marker_class()
            if undefined is not None:
                try:
                    return undefined(hint="undefined value", _no_template_source=True)
                except Exception:
                    try:
                        return undefined(hint="undefined value")
                    except Exception:
                        return None
            return None
        return {k: _to_marker(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_to_marker(x) for x in v]
    return v


def _from_marker(v):
    if _is_marker(v):
        return {_MARKER: True}
    if isinstance(v, dict):
        return {k: _from_marker(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_from_marker(x) for x in v]
    return v


def _action(req):
    from ansible.plugins.connection import ConnectionBase
    from ansible.playbook.play_context import PlayContext
    from ansible.playbook.task import Task
    from ansible.template import Templar

    class ProvConnection(ConnectionBase):
        """Runs commands and copies files through prov's own connection to the host."""

        transport = "prov"
        has_pipelining = True

        def _connect(self):
            self._connected = True
            return self

        def is_pipelining_enabled(self, wrap_async=False):
            return not wrap_async

        def exec_command(self, cmd, in_data=None, sudoable=True):
            r = _ask({
                "op": "exec",
                "cmd": cmd,
                "stdin": base64.b64encode(in_data if isinstance(in_data, bytes) else (in_data or "").encode()).decode() if in_data else None,
                "sudoable": bool(sudoable),
            })
            return r["rc"], base64.b64decode(r["stdout"]), base64.b64decode(r["stderr"])

        def put_file(self, in_path, out_path):
            _ask({"op": "put", "src": in_path, "dest": out_path})

        def fetch_file(self, in_path, out_path):
            _ask({"op": "fetch", "src": in_path, "dest": out_path})

        def reset(self):
            _ask({"op": "reset"})

        def close(self):
            self._connected = False

    name = req["name"]
    # The task's variables, asked of prov when read (as Ansible templates them lazily).
    task_vars = _Vars()
    dl = _dataloader(req.get("base"))
    pc = PlayContext()
    pc.check_mode = bool(req.get("check"))
    pc.diff = bool(req.get("diff"))
    pc.remote_user = task_vars.get("ansible_user") or task_vars.get("ansible_ssh_user")
    pc.remote_addr = task_vars.get("ansible_host") or task_vars.get("inventory_hostname")
    pc.executable = task_vars.get("ansible_shell_executable") or "/bin/sh"
    pc.shell = task_vars.get("ansible_shell_type")
    if req.get("connection"):
        # One of Ansible's Python connection plugins: the action runs with it, as in Ansible.
        try:
            conn = _loader.connection_loader.get(req["connection"], pc, "/dev/null")
        except Exception as ex:
            return {"op": "error", "kind": "load", "msg": "the connection plugin %r failed to load: %s" % (req["connection"], _chain(ex))}
        if conn is None:
            return {"op": "error", "kind": "notfound", "msg": "the connection plugin %r was not found" % req["connection"]}
        try:
            conn.set_options(var_options=task_vars)
        except Exception:
            pass
    else:
        conn = ProvConnection(pc)
    conn._shell.set_options(var_options=task_vars)
    task = Task()
    task.action = name
    task._resolved_action = req.get("resolved") or ("ansible.legacy." + name if "." not in name else name)
    task.args = dict(req.get("args") or {})
    task.check_mode = bool(req.get("check"))
    task.diff = bool(req.get("diff"))
    task.no_log = bool(req.get("no_log"))
    if req.get("environment"):
        task.environment = [req["environment"]]
    if req.get("delegate_to"):
        task.delegate_to = req["delegate_to"]
    if req.get("search_path"):
        _search = list(req["search_path"])
        task.get_search_path = lambda: _search
    templar = Templar(loader=dl, variables=task_vars)
    try:
        inst = _loader.action_loader.get(
            name, task=task, connection=conn, play_context=pc, loader=dl, templar=templar,
            shared_loader_obj=_loader.get_plugin_loader_namespace(),
        )
    except Exception as ex:
        return {"op": "error", "kind": "load", "msg": "The action plugin %r failed to load: %s" % (name, _chain(ex))}
    if inst is None:
        return {"op": "error", "kind": "notfound", "msg": "The action plugin %r was not found." % name}
    try:
        value = inst.run(task_vars=task_vars)
    except Exception as ex:
        value = {"failed": True, "msg": _task_failed(ex)}
    try:
        inst.cleanup()
    except Exception:
        pass
    return {"op": "result", "value": value}


_conns = {}


def _conn_error(ex):
    from ansible.errors import AnsibleConnectionFailure

    kind = "unreachable" if isinstance(ex, AnsibleConnectionFailure) else "runtime"
    return {"op": "error", "kind": kind, "msg": _chain(ex)}


def _conn_open(req):
    """Loads one of Ansible's connection plugins for a host: the connection prov runs its
    commands and copies its files through (`conn_exec`, `conn_put`, `conn_fetch`)."""
    from ansible.playbook.play_context import PlayContext

    name = req["name"]
    variables = dict(req.get("vars") or {})
    pc = PlayContext()
    pc.remote_addr = variables.get("ansible_host") or req.get("host")
    pc.remote_user = variables.get("ansible_user")
    pc.port = variables.get("ansible_port")
    pc.executable = variables.get("ansible_shell_executable") or "/bin/sh"
    try:
        conn = _loader.connection_loader.get(name, pc, "/dev/null")
    except Exception as ex:
        return _conn_error(ex)
    if conn is None:
        return {"op": "error", "kind": "notfound", "msg": "the connection plugin %r was not found" % name}
    try:
        conn.set_options(var_options=variables)
    except Exception:
        pass
    try:
        conn._shell.set_options(var_options=variables)
    except Exception:
        pass
    key = str(len(_conns) + 1)
    _conns[key] = conn
    return {"op": "result", "value": key}


def _conn_call(req):
    conn = _conns.get(req.get("id"))
    if conn is None:
        return {"op": "error", "kind": "runtime", "msg": "no such connection"}
    op = req["op"]
    try:
        if op == "conn_exec":
            data = base64.b64decode(req["stdin"]) if req.get("stdin") else None
            rc, out, err = conn.exec_command(req["cmd"], in_data=data, sudoable=False)
            enc = lambda b: base64.b64encode(b if isinstance(b, bytes) else str(b or "").encode()).decode()
            return {"op": "result", "value": {"rc": rc, "stdout": enc(out), "stderr": enc(err)}}
        if op == "conn_put":
            conn.put_file(req["src"], req["dest"])
        elif op == "conn_fetch":
            conn.fetch_file(req["src"], req["dest"])
        elif op == "conn_close":
            conn.close()
            _conns.pop(req.get("id"), None)
    except Exception as ex:
        return _conn_error(ex)
    return {"op": "result", "value": None}


_send({"op": "ready", "version": getattr(C, "__version__", None) or __import__("ansible.release").release.__version__})
while True:
    _req = _recv()
    _add_dirs(_req.get("dirs"))
    _op = _req.get("op")
    try:
        if _op in ("filter", "test"):
            _res = _jinja(_op, _req)
        elif _op == "lookup":
            _res = _lookup(_req)
        elif _op == "action":
            _res = _action(_req)
        elif _op == "conn_open":
            _res = _conn_open(_req)
        elif _op in ("conn_exec", "conn_put", "conn_fetch", "conn_close"):
            _res = _conn_call(_req)
        else:
            _res = {"op": "error", "kind": "runtime", "msg": "unknown request %r" % _op}
    except Exception as _ex:
        _res = {"op": "error", "kind": "runtime", "msg": _chain(_ex)}
    try:
        _send(_res)
    except (TypeError, ValueError) as _ex:
        _send({"op": "error", "kind": "runtime", "msg": "the result cannot be sent as JSON: %s" % _ex})
