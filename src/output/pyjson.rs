//! JSON text the way Ansible's callbacks print it: Python's `json.dumps(…, sort_keys=True,
//! ensure_ascii=False)`, i.e. `", "` and `": "` separators on one line, or a 4-space indent.

use serde_json::Value as Json;

/// Serializes `v` with keys sorted at every level; `indent` switches to the multi-line form.
pub(crate) fn dumps(v: &Json, indent: Option<usize>) -> String {
    let mut out = String::new();
    write(v, indent, 0, &mut out);
    out
}

fn newline(out: &mut String, indent: usize, level: usize) {
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', indent * level));
}

fn write(v: &Json, indent: Option<usize>, level: usize, out: &mut String) {
    match v {
        Json::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                sep(out, i, indent, level + 1);
                write(item, indent, level + 1, out);
            }
            close(out, ']', indent, level);
        }
        Json::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                sep(out, i, indent, level + 1);
                string(k, out);
                out.push_str(": ");
                write(&map[k], indent, level + 1, out);
            }
            close(out, '}', indent, level);
        }
        Json::String(s) => string(s, out),
        // null, bools, numbers, and empty containers print the same as serde_json's compact form
        other => out.push_str(&other.to_string()),
    }
}

fn sep(out: &mut String, i: usize, indent: Option<usize>, level: usize) {
    match indent {
        Some(n) => {
            if i > 0 {
                out.push(',');
            }
            newline(out, n, level);
        }
        None if i > 0 => out.push_str(", "),
        None => {}
    }
}

fn close(out: &mut String, c: char, indent: Option<usize>, level: usize) {
    if let Some(n) = indent {
        newline(out, n, level);
    }
    out.push(c);
}

fn string(s: &str, out: &mut String) {
    // serde_json escapes exactly what Python does with ensure_ascii=False: `"`, `\`, and control
    // characters (as \n, \t, … or \u00XX).
    out.push_str(&Json::String(s.to_string()).to_string());
}

#[cfg(test)]
mod tests {
    use super::dumps;
    use serde_json::json;

    #[test]
    fn compact_sorted_like_python() {
        let v =
            json!({"msg": "a\"b\n", "changed": false, "rc": 1, "l": [1, "x"], "e": {}, "n": null});
        assert_eq!(
            dumps(&v, None),
            r#"{"changed": false, "e": {}, "l": [1, "x"], "msg": "a\"b\n", "n": null, "rc": 1}"#
        );
    }

    #[test]
    fn indented_like_python() {
        let v = json!({"b": [1, {"y": 2, "x": []}], "a": "é"});
        assert_eq!(
            dumps(&v, Some(4)),
            "{\n    \"a\": \"é\",\n    \"b\": [\n        1,\n        {\n            \"x\": [],\n            \"y\": 2\n        }\n    ]\n}"
        );
    }
}
