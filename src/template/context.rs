//! [`Context`]: Ansible's lazy variables as a minijinja object.

use super::{
    RenderError, Templar, enter_var, leave_var, needs_templating, record_fatal, record_undefined,
};
use crate::error::Result;
use crate::value::{Value, Vars, VaultText};
use minijinja::value::{Enumerator, Object, ObjectRepr, ValueKind};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

/// The variables a template sees: layers of [`Vars`], later layers win. Values are templated
/// lazily when looked up (Ansible's recursive templating), with loop detection; rendered
/// values are cached per context (a context's layers never change, so the cache stays valid).
///
/// `vars` inside a template is the context itself (`vars['name']`, `lookup('vars', ...)`).
#[derive(Clone)]
pub struct Context {
    pub(crate) inner: Arc<CtxInner>,
}

pub(crate) struct CtxInner {
    pub(crate) templar: Templar,
    layers: Vec<Arc<Vars>>,
    cache: Mutex<HashMap<String, Value>>,
}

impl fmt::Debug for CtxInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<variables: {} layers>", self.layers.len())
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Context {
    /// A context over `layers` (lowest precedence first).
    pub fn new(templar: &Templar, layers: Vec<Arc<Vars>>) -> Self {
        Context {
            inner: Arc::new(CtxInner {
                templar: templar.clone(),
                layers,
                cache: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A new context with one more (highest precedence) layer.
    pub fn push(&self, layer: Arc<Vars>) -> Context {
        let mut layers = self.inner.layers.clone();
        layers.push(layer);
        Context::new(&self.inner.templar, layers)
    }

    /// The layers, lowest precedence first.
    pub fn layers(&self) -> &[Arc<Vars>] {
        &self.inner.layers
    }

    /// The templar this context renders with.
    pub fn templar(&self) -> &Templar {
        &self.inner.templar
    }

    /// The raw (untemplated) value of a variable: the highest layer's, or with
    /// `hash_behaviour = merge` the mappings of the layers down to the first one where it is
    /// not a mapping merged recursively (higher layers win), as Ansible combines variables.
    pub fn get_raw(&self, name: &str) -> Option<Value> {
        let mut found = self.inner.layers.iter().rev().filter_map(|l| l.get(name));
        let top = found.next()?.clone();
        if !crate::value::hash_merge() || top.kind() != ValueKind::Map {
            return Some(top);
        }
        let mut maps = vec![top];
        for v in found {
            if v.kind() != ValueKind::Map {
                break;
            }
            maps.push(v.clone());
        }
        let mut it = maps.into_iter().rev();
        let first = it.next()?;
        Some(it.fold(first, |low, high| crate::value::merge_maps(&low, &high)))
    }

    /// True if the variable is set in some layer.
    pub fn contains(&self, name: &str) -> bool {
        self.inner.layers.iter().any(|l| l.contains_key(name))
    }

    /// The templated value of a variable.
    pub fn get(&self, name: &str) -> Result<Option<Value>> {
        self.resolve(name).map_err(|e| e.err)
    }

    /// Every variable name, highest precedence layer's order last.
    pub fn names(&self) -> Vec<String> {
        let mut seen = indexmap::IndexSet::new();
        for l in &self.inner.layers {
            for k in l.keys() {
                seen.insert(k.clone());
            }
        }
        seen.into_iter().collect()
    }

    /// The context as a minijinja value (a lazy object), e.g. for `hostvars[host]`.
    pub fn to_value(&self) -> Value {
        Value::from_dyn_object(self.inner.clone())
    }

    /// The context inside a value made by [`Context::to_value`].
    pub fn from_value(v: &Value) -> Option<Context> {
        v.downcast_object::<CtxInner>()
            .map(|inner| Context { inner })
    }

    fn id(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// Looks a variable up and templates it (cached).
    pub(crate) fn resolve(&self, name: &str) -> std::result::Result<Option<Value>, RenderError> {
        if let Some(v) = self
            .inner
            .cache
            .lock()
            .ok()
            .and_then(|c| c.get(name).cloned())
        {
            return Ok(Some(v));
        }
        let Some(raw) = self.get_raw(name) else {
            if name == "vars" {
                return Ok(Some(self.to_value()));
            }
            return Ok(None);
        };
        if !needs_templating(&raw) {
            if matches!(raw.kind(), ValueKind::Map | ValueKind::Seq)
                && let Ok(mut c) = self.inner.cache.lock()
            {
                c.insert(name.to_string(), raw.clone());
            }
            return Ok(Some(raw));
        }
        // Without a vault password, encrypted text stays encrypted: the `unvault` filter and
        // `is vault_encrypted` can use it; printing it or returning it from a template fails.
        if self.inner.templar.vault.is_none() && raw.downcast_object_ref::<VaultText>().is_some() {
            return Ok(Some(raw));
        }
        enter_var(self.id(), name)?;
        let r = match raw.downcast_object_ref::<VaultText>() {
            Some(vt) => self
                .inner
                .templar
                .decrypt_vault(vt, name)
                .map_err(|err| RenderError {
                    err,
                    undefined: false,
                }),
            None => self.inner.templar.render_var_value(&raw, self, name),
        };
        leave_var();
        let v = r?;
        // a value holding an undefined item is rendered again when used, so that the reason
        // is noted for the render that uses it
        if !super::holds_undefined(&v)
            && let Ok(mut c) = self.inner.cache.lock()
        {
            c.insert(name.to_string(), v.clone());
        }
        Ok(Some(v))
    }
}

impl Object for CtxInner {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        let ctx = Context {
            inner: self.clone(),
        };
        match ctx.resolve(name) {
            Ok(None) => {
                super::record_missing(name);
                None
            }
            Ok(v) => v,
            Err(RenderError {
                err,
                undefined: true,
            }) => {
                record_undefined(name, err);
                None
            }
            Err(RenderError { err, .. }) => {
                let msg = err.msg.clone();
                record_fatal(err);
                Some(Value::from(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    msg,
                )))
            }
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let ctx = Context {
            inner: self.clone(),
        };
        Enumerator::Values(ctx.names().into_iter().map(Value::from).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(
            Context {
                inner: self.clone(),
            }
            .names()
            .len(),
        )
    }
}
