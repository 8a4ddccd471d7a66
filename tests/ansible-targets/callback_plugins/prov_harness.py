# prov's test harness: an ansible-core callback that writes one JSON line per task result,
# in the shape of prov's own `--output json` events, so that tests/ansible-targets/harness.py
# counts both tools' results the same way. Enabled only by the harness
# (ANSIBLE_CALLBACKS_ENABLED=prov_harness, ANSIBLE_CALLBACK_PLUGINS=this folder); the output
# file is $PROV_HARNESS_EVENTS.
# Copyright prov's authors; Apache-2.0 (prov's own code, not taken from ansible-core).
import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "prov_harness"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._out = open(os.environ["PROV_HARNESS_EVENTS"], "a", encoding="utf-8")

    def _write(self, obj):
        self._out.write(json.dumps(obj, default=str) + "\n")
        self._out.flush()

    def v2_playbook_on_task_start(self, task, is_conditional, handler=False):
        self._write({"event": "task_start", "name": task.get_name(), "action": task.action,
                     "location": task.get_path(), "handler": handler})

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False, handler=True)

    def _result(self, result, status, ignored=False):
        r = result._result
        msg = r.get("msg")
        if status == "ok" and r.get("changed"):
            status = "changed"
        self._write({"event": "host_result", "host": result._host.get_name(),
                     "task": result._task.get_name(), "action": result._task.action,
                     "status": status, "ignored": bool(ignored),
                     "msg": msg if isinstance(msg, str) else (None if msg is None else str(msg))})

    def v2_runner_on_ok(self, result):
        self._result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "failed", ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._result(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        self._write({"event": "recap"})
        self._out.close()
