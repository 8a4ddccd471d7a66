#!/usr/bin/env python3
"""Compare prov's module option specs with ansible-core's.

For every prov module (or engine action) that has an ``ansible.builtin`` counterpart, prints the
options Ansible accepts that prov lacks, and those whose type, default, choices, aliases or
``required`` flag differ. Ansible's side is the module's real argument spec, captured by running
the module's ``main()`` under the reference ansible-core with ``AnsibleModule`` stopped before it
reads anything (so undocumented options such as command's ``executable`` count), completed by
``ansible-doc --json -t module`` for options only an action plugin handles (template's) and for
action-only modules. prov's side is ``prov doc --json``. Internal options (a leading ``_``) and
the documentation's free-form placeholders are skipped.

Usage: options.py [--prov PATH] [--ansible-doc PATH] [--summary] [--json] [MODULE ...]
Exit status: 0 (a report, not a test).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# prov kinds that stand for an Ansible type.
SAME_TYPE = {
    ("mode", "raw"),
    ("raw", "jsonarg"),
    ("raw", "json"),
    ("str", "jsonarg"),
}


# Runs under the reference ansible-core's Python: prints {module: argument spec or null}.
CAPTURE = r"""
import importlib, json, sys
from ansible.module_utils import basic
class Captured(Exception):
    pass
def stop(self, *a, **kw):
    raise Captured(kw if kw else {"argument_spec": a[0] if a else {}})
basic.AnsibleModule.__init__ = stop
keep = ("type", "default", "choices", "aliases", "required", "no_log")
out = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module("ansible.modules." + name).main()
        out[name] = None
    except Captured as c:
        kw = c.args[0]
        spec = dict(kw.get("argument_spec") or {})
        if kw.get("add_file_common_args"):
            for k, v in basic.FILE_COMMON_ARGUMENTS.items():
                spec.setdefault(k, v)
        out[name] = {k: {kk: vv for kk, vv in v.items() if kk in keep} for k, v in spec.items()}
    except BaseException:
        out[name] = None
json.dump(out, sys.stdout, default=str)
"""

# Documentation entries that describe a free-form argument, not an option.
FREE_FORM_DOCS = {"free_form", "free-form", "key_value"}


def run_json(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return None
    try:
        return json.loads(out.stdout)
    except ValueError:
        return None


def prov_names(prov):
    out = subprocess.run([prov, "doc", "--list"], capture_output=True, text=True, check=True)
    return [line.split()[0] for line in out.stdout.splitlines() if line.strip()]


def ansible_names(adoc):
    out = subprocess.run(
        [adoc, "-t", "module", "-l", "ansible.builtin"], capture_output=True, text=True, check=True
    )
    return [line.split()[0].rsplit(".", 1)[-1] for line in out.stdout.splitlines() if line.strip()]


def truth(v):
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("yes", "true", "on", "1", "y"):
        return True
    if s in ("no", "false", "off", "0", "n", ""):
        return False
    return s


def norm_default(v, typ):
    """A default as a comparable value: prov writes defaults as YAML-ish text."""
    if v is None:
        return None
    if typ == "bool":
        return truth(v)
    if typ in ("int", "float"):
        try:
            return float(v)
        except (TypeError, ValueError):
            return str(v)
    if typ == "list":
        if isinstance(v, list):
            return [str(x) for x in v]
        s = str(v).strip()
        if s in ("[]", ""):
            return []
        if s.startswith("["):
            try:
                return [str(x) for x in json.loads(s.replace("'", '"'))]
            except ValueError:
                pass
        return [x.strip() for x in s.split(",")]
    if typ == "dict":
        if isinstance(v, dict):
            return v
        return {} if str(v).strip() in ("{}", "") else str(v)
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def ansible_options(spec, doc):
    """The argument spec's options, plus those only the documentation lists."""
    opts = {k: dict(v, type=v.get("type") or "str") for k, v in (spec or {}).items()}
    known = set(opts)
    for v in opts.values():
        known.update(v.get("aliases") or [])
    for k, v in (doc or {}).items():
        if k not in known and k not in FREE_FORM_DOCS:
            opts[k] = v
    return opts


def compare(name, aopts, popts):
    """Returns (missing, diffs, extra) for one module."""
    missing, diffs = [], []
    by_name = {}
    for pn, po in popts.items():
        by_name.setdefault(pn, pn)
        for al in po.get("aliases") or []:
            by_name.setdefault(al, pn)
    seen = set()
    for an, ao in sorted(aopts.items()):
        if an.startswith("_"):
            continue
        names = [an] + list(ao.get("aliases") or [])
        pn = next((by_name[n] for n in names if n in by_name), None)
        if pn is None:
            missing.append(an)
            continue
        seen.add(pn)
        po = popts[pn]
        d = []
        if pn != an:
            d.append(f"name: prov '{pn}', ansible '{an}'")
        atype = ao.get("type") or "str"
        ptype = po.get("type")
        if atype != ptype and (ptype, atype) not in SAME_TYPE:
            d.append(f"type: prov {ptype}, ansible {atype}")
        typ = atype if atype in ("bool", "int", "float", "list", "dict") else ptype
        ad = norm_default(ao.get("default"), typ)
        pd = norm_default(po.get("default"), typ)
        if typ == "bool" and not ao.get("required"):
            # An optional boolean without default reads as false in both.
            ad = False if ad is None else ad
            pd = False if pd is None else pd
        if ad != pd:
            d.append(f"default: prov {po.get('default')!r}, ansible {ao.get('default')!r}")
        ach = sorted(str(x) for x in ao.get("choices") or [])
        pch = sorted(str(x) for x in po.get("choices") or [])
        if atype == "bool":
            ach = pch = []
        if isinstance(ao.get("choices"), dict):
            ach = sorted(str(x) for x in ao["choices"])
        if ach != pch:
            d.append(f"choices: prov {pch}, ansible {ach}")
        aal = set(names) - {pn}
        pal = set(po.get("aliases") or []) | {pn}
        pal.discard(pn)
        if aal != pal:
            d.append(f"aliases: prov {sorted(pal)}, ansible {sorted(aal)}")
        if bool(ao.get("required")) != bool(po.get("required")):
            d.append(f"required: prov {po.get('required')}, ansible {bool(ao.get('required'))}")
        if d:
            diffs.append((an, d))
    extra = sorted(pn for pn in popts if pn not in seen)
    return missing, diffs, extra


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prov", default=os.path.join(ROOT, "target", "debug", "prov"))
    ap.add_argument("--ansible-doc", default="/work/ansvenv/bin/ansible-doc")
    ap.add_argument("--summary", action="store_true", help="counts only")
    ap.add_argument("--json", action="store_true", help="machine-readable report")
    ap.add_argument("modules", nargs="*")
    a = ap.parse_args()

    ans = set(ansible_names(a.ansible_doc))
    prov = prov_names(a.prov)
    mods = a.modules or sorted(n for n in prov if n in ans)
    docs = run_json([a.ansible_doc, "--json", "-t", "module"] + [f"ansible.builtin.{m}" for m in mods]) or {}
    python = os.path.join(os.path.dirname(a.ansible_doc), "python")
    with tempfile.TemporaryDirectory() as tmp:
        specs = subprocess.run([python, "-c", CAPTURE] + mods, capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, cwd=tmp, check=False)
    specs = json.loads(specs.stdout or "{}")

    report = {}
    totals = {"missing": 0, "differ": 0}
    for m in mods:
        ad = (docs.get(f"ansible.builtin.{m}") or {}).get("doc") or {}
        pd = run_json([a.prov, "doc", "--json", m]) or {}
        aopts = ansible_options(specs.get(m), ad.get("options"))
        missing, diffs, extra = compare(m, aopts, pd.get("options") or {})
        report[m] = {"missing": missing, "differ": dict(diffs), "prov_only": extra}
        totals["missing"] += len(missing)
        totals["differ"] += len(diffs)

    if a.json:
        json.dump({"modules": report, "totals": totals,
                   "not_in_prov": sorted(ans - set(prov))}, sys.stdout, indent=1)
        print()
        return 0
    for m, r in report.items():
        if a.summary:
            print(f"{m:24} missing {len(r['missing']):3}  differ {len(r['differ']):3}")
            continue
        if not (r["missing"] or r["differ"]):
            continue
        print(f"== {m}")
        if r["missing"]:
            print(f"  missing: {', '.join(r['missing'])}")
        for o, ds in r["differ"].items():
            print(f"  {o}: " + "; ".join(ds))
    print(f"\nmodules compared: {len(report)}; options missing: {totals['missing']}; "
          f"options that differ: {totals['differ']}")
    print(f"ansible.builtin modules prov lacks: {', '.join(sorted(ans - set(prov)))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
