//! Typed access to options: a module declares its options once with [`crate::options!`], which
//! gives both the spec (for validation, `prov doc`, `prov check`) and a struct of typed fields
//! read from the validated [`Args`] (defaults already applied by the spec). The field's type
//! says how the value is read ([`FromArg`]); a field whose type cannot hold its option's kind,
//! or a field that needs a value for an option that is neither required nor defaulted, does not
//! compile.

use super::Args;
use super::spec::{OptGroup, OptKind, OptSpec};
use crate::error::{Error, Result};
use crate::value::Value;

/// A typed options struct: the spec it was declared with and how to read it. Implemented by
/// [`crate::options!`].
pub trait Options: Sized {
    /// The struct's own options.
    const OPTIONS: &'static [OptSpec];
    /// The shared groups it embeds.
    const GROUPS: &'static [&'static OptGroup];
    /// Reads the typed values from validated arguments.
    fn from_args(args: &Args) -> Result<Self>;
}

/// A Rust type an option's value is read into.
pub trait FromArg: Sized {
    /// The option kinds this type can hold ([`OptKind::bit`] set).
    const KINDS: u16;
    /// True when the type has no "absent" value (`String`, `i64`): its option must be required
    /// or have a default.
    const NEEDS_VALUE: bool;
    /// Reads option `name`.
    fn from_arg(args: &Args, name: &str) -> Result<Self>;
}

const fn bits(kinds: &[OptKind]) -> u16 {
    let mut b = 0;
    let mut i = 0;
    while i < kinds.len() {
        b |= kinds[i].bit();
        i += 1;
    }
    b
}

const TEXT: u16 = bits(&[OptKind::Str, OptKind::Path, OptKind::Any]);
const ALL: u16 = u16::MAX;

fn absent(args: &Args, name: &str) -> Error {
    Error::failed(format!(
        "module '{}': option '{name}' has no value",
        args.module()
    ))
}

fn bad(args: &Args, name: &str, wanted: &str, v: &Value) -> Error {
    let (msg, hint) = super::validate::unconvertible_text(args.module(), name, false, v, wanted);
    Error::failed(msg).hint(hint)
}

impl FromArg for String {
    const KINDS: u16 = TEXT;
    const NEEDS_VALUE: bool = true;
    fn from_arg(args: &Args, name: &str) -> Result<Self> {
        args.str(name).ok_or_else(|| absent(args, name))
    }
}

impl FromArg for Option<String> {
    const KINDS: u16 = TEXT;
    const NEEDS_VALUE: bool = false;
    fn from_arg(args: &Args, name: &str) -> Result<Self> {
        Ok(args.str(name))
    }
}

impl FromArg for bool {
    const KINDS: u16 = OptKind::Bool.bit();
    const NEEDS_VALUE: bool = false;
    /// Absent is false.
    fn from_arg(args: &Args, name: &str) -> Result<Self> {
        Ok(args.bool(name))
    }
}

impl FromArg for Option<bool> {
    const KINDS: u16 = OptKind::Bool.bit();
    const NEEDS_VALUE: bool = false;
    fn from_arg(args: &Args, name: &str) -> Result<Self> {
        Ok(args.opt_bool(name))
    }
}

impl FromArg for i64 {
    const KINDS: u16 = OptKind::Int.bit();
    const NEEDS_VALUE: bool = true;
    fn from_arg(args: &Args, name: &str) -> Result<Self> {
        match args.get(name) {
            None => Err(absent(args, name)),
            Some(v) => args.int(name).ok_or_else(|| bad(args, name, "int", v)),
        }
    }
}

impl FromArg for Option<i64> {
    const KINDS: u16 = OptKind::Int.bit();
    const NEEDS_VALUE: bool = false;
    fn from_arg(args: &Args, name: &str) -> Result<Self> {
        match args.get(name) {
            None => Ok(None),
            Some(v) => args
                .int(name)
                .map(Some)
                .ok_or_else(|| bad(args, name, "int", v)),
        }
    }
}

impl FromArg for f64 {
    const KINDS: u16 = bits(&[OptKind::Float, OptKind::Int]);
    const NEEDS_VALUE: bool = true;
    fn from_arg(args: &Args, name: &str) -> Result<Self> {
        match args.get(name) {
            None => Err(absent(args, name)),
            Some(v) => args.float(name).ok_or_else(|| bad(args, name, "float", v)),
        }
    }
}

impl FromArg for Option<f64> {
    const KINDS: u16 = bits(&[OptKind::Float, OptKind::Int]);
    const NEEDS_VALUE: bool = false;
    fn from_arg(args: &Args, name: &str) -> Result<Self> {
        match args.get(name) {
            None => Ok(None),
            Some(v) => args
                .float(name)
                .map(Some)
                .ok_or_else(|| bad(args, name, "float", v)),
        }
    }
}

/// A list of strings (a comma-separated string is split); absent is empty.
impl FromArg for Vec<String> {
    const KINDS: u16 = bits(&[OptKind::List, OptKind::Any]);
    const NEEDS_VALUE: bool = false;
    fn from_arg(args: &Args, name: &str) -> Result<Self> {
        Ok(args.list_str(name))
    }
}

/// A list of strings, `None` when absent (to tell "not given" from "empty").
impl FromArg for Option<Vec<String>> {
    const KINDS: u16 = bits(&[OptKind::List, OptKind::Any]);
    const NEEDS_VALUE: bool = false;
    fn from_arg(args: &Args, name: &str) -> Result<Self> {
        Ok(args.has(name).then(|| args.list_str(name)))
    }
}

/// The raw value, any kind.
impl FromArg for Option<Value> {
    const KINDS: u16 = ALL;
    const NEEDS_VALUE: bool = false;
    fn from_arg(args: &Args, name: &str) -> Result<Self> {
        Ok(args.get(name).cloned())
    }
}

/// The raw value of a required or defaulted option, any kind.
impl FromArg for Value {
    const KINDS: u16 = ALL;
    const NEEDS_VALUE: bool = true;
    fn from_arg(args: &Args, name: &str) -> Result<Self> {
        args.get(name).cloned().ok_or_else(|| absent(args, name))
    }
}

/// A file mode as text for `chmod`: numbers are printed in octal (`420` → `0644`), digits get a
/// leading `0`, symbolic modes and `preserve` stay as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mode(pub String);

impl std::ops::Deref for Mode {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl FromArg for Option<Mode> {
    const KINDS: u16 = OptKind::Mode.bit();
    const NEEDS_VALUE: bool = false;
    fn from_arg(args: &Args, name: &str) -> Result<Self> {
        Ok(args.mode(name).map(Mode))
    }
}

/// The option name of a field: the field's name without a raw-identifier prefix (`r#use`).
pub const fn field_name(field: &'static str) -> &'static str {
    match field.as_bytes() {
        [b'r', b'#', rest @ ..] => match std::str::from_utf8(rest) {
            Ok(s) => s,
            Err(_) => field,
        },
        _ => field,
    }
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The spec of field `field` (named after it), checked at compile time: the field's type can
/// hold the option's kind, a type without an absent value has a required or defaulted option,
/// and a spec that names itself names the field.
pub const fn check_field<T: FromArg>(spec: OptSpec, field: &'static str) -> OptSpec {
    let name = field_name(field);
    assert!(
        spec.name.is_empty() || same(spec.name, name),
        "an options! field and its spec name differ"
    );
    assert!(
        T::KINDS & spec.kind.bit() != 0,
        "an options! field's type cannot hold its option's kind"
    );
    assert!(
        !T::NEEDS_VALUE || spec.required || spec.default.is_some(),
        "an options! field's type needs a value: make the option required or give it a default, or use Option<_>"
    );
    spec.named(name)
}

/// Declares a module's options once: the spec (an `OPTIONS` slice for [`crate::modules::ModuleDoc`],
/// through `ModuleDoc::new(..).spec::<Opts>()`) and a struct with one typed field per option,
/// read with [`Options::from_args`]. Shared groups (themselves declared with `as group`) are
/// embedded as fields after `groups`.
///
/// ```
/// use prov::modules::args::{FileAttrs, Options, opt};
/// use prov::modules::ModuleDoc;
///
/// prov::options! {
///     /// Options of a `banner` module.
///     pub struct BannerOpts {
///         text: String = opt::str("The text.").required(),
///         force: bool = opt::bool("Replace a different banner.").default("no"),
///     }
///     groups { attrs: FileAttrs }
/// }
/// static DOC: ModuleDoc = ModuleDoc::new("banner", "Write a banner").spec::<BannerOpts>();
/// assert!(DOC.option("owner").is_some());
/// ```
///
/// A field that cannot hold its option does not compile: here `String` has no "absent" value,
/// but the option is neither required nor defaulted.
///
/// ```compile_fail
/// use prov::modules::args::opt;
/// prov::options! {
///     struct Bad {
///         path: String = opt::path("A path."),
///     }
/// }
/// let _ = <Bad as prov::modules::args::Options>::OPTIONS;
/// ```
///
/// Nor does a boolean read as text:
///
/// ```compile_fail
/// use prov::modules::args::opt;
/// prov::options! {
///     struct Bad {
///         force: Option<String> = opt::bool("Force."),
///     }
/// }
/// let _ = <Bad as prov::modules::args::Options>::OPTIONS;
/// ```
#[macro_export]
macro_rules! options {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident $(as group $gname:literal)? {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty = $spec:expr
            ),* $(,)?
        }
        $( groups { $( $gfield:ident : $gty:ty ),* $(,)? } )?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        #[allow(missing_docs)]
        $vis struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )*
            $( $( pub $gfield: $gty, )* )?
        }

        impl $crate::modules::args::Options for $name {
            const OPTIONS: &'static [$crate::modules::args::OptSpec] = &[
                $( $crate::modules::args::check_field::<$ty>($spec, stringify!($field)) ),*
            ];
            const GROUPS: &'static [&'static $crate::modules::args::OptGroup] = &[
                $( $( &<$gty>::GROUP ),* )?
            ];
            fn from_args(args: &$crate::modules::Args) -> $crate::error::Result<Self> {
                Ok($name {
                    $(
                        $field: <$ty as $crate::modules::args::FromArg>::from_arg(
                            args,
                            $crate::modules::args::field_name(stringify!($field)),
                        )?,
                    )*
                    $( $(
                        $gfield: <$gty as $crate::modules::args::Options>::from_args(args)?,
                    )* )?
                })
            }
        }

        $(
            impl $name {
                /// This group as listed in a module's spec.
                pub const GROUP: $crate::modules::args::OptGroup = $crate::modules::args::OptGroup::new(
                    $gname,
                    <$name as $crate::modules::args::Options>::OPTIONS,
                );
            }
        )?
    };
}
