//! The expression escape hatch: one sandboxed minijinja expression for what the
//! built-in transforms lack, e.g. `(record.firstName ~ " " ~ record.lastName) | trim`.
//! The context is `value` (the field's value so far) and `record` (the record it
//! came from). Every built-in transform is also a filter (`value | phone_e164(region="US")`),
//! so expressions and transform lists share one implementation. Evaluation has a
//! fuel limit: an expression that runs too long fails, like any transform. An
//! expression cannot be undone, so a two-way field using it needs an `inverse`.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use minijinja::value::{Kwargs, Value as MjValue};
use minijinja::{Environment, Error, ErrorKind};
use serde_json::Value;

use super::transform::{Tables, Transform, TransformSpec};

/// Instructions one evaluation may spend.
const FUEL: u64 = 20_000;

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_fuel(Some(FUEL));
        for name in super::transform::BUILTINS {
            // Those that read other fields or tables stay transforms only.
            if matches!(*name, "lookup" | "coalesce" | "concat" | "set_union") {
                continue;
            }
            let name = (*name).to_owned();
            env.add_filter(
                name.clone(),
                move |value: MjValue, kwargs: Kwargs| -> Result<MjValue, Error> {
                    let mut args = BTreeMap::new();
                    for key in kwargs.args() {
                        let v: MjValue = kwargs.get(key)?;
                        args.insert(
                            key.to_owned(),
                            serde_json::to_value(&v).unwrap_or(Value::Null),
                        );
                    }
                    kwargs.assert_all_used()?;
                    let spec = TransformSpec::Call {
                        name: name.clone(),
                        args,
                    };
                    let (t, _) = Transform::compile(&spec, &Tables::new())
                        .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
                    let input = serde_json::to_value(&value).unwrap_or(Value::Null);
                    let out = t
                        .apply(input, &Value::Null)
                        .map_err(|e| Error::new(ErrorKind::InvalidOperation, e))?;
                    Ok(MjValue::from_serialize(&out))
                },
            );
        }
        env
    })
}

/// A compiled expression.
#[derive(Clone)]
pub struct Expr {
    source: String,
    compiled: Arc<minijinja::Expression<'static, 'static>>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Expr").field(&self.source).finish()
    }
}

impl Expr {
    /// Compiles `source`; `Err` says what is wrong with it.
    pub fn compile(source: &str) -> Result<Self, String> {
        // Template delimiters are never part of an expression, and minijinja's
        // expression lexer panics on a closing one ("empty lexer stack", found by
        // the `expression` fuzz target): refused here, before it sees them.
        if let Some(d) = ["}}", "%}", "#}", "{{", "{%", "{#"]
            .iter()
            .find(|d| source.contains(**d))
        {
            return Err(format!(
                "`{source}` is not an expression: `{d}` is a template delimiter; write the expression alone, without {{{{ }}}}"
            ));
        }
        let compiled = environment()
            .compile_expression_owned(source.to_owned())
            .map_err(|e| format!("`{source}` is not an expression: {e}"))?;
        Ok(Self {
            source: source.to_owned(),
            compiled: Arc::new(compiled),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates with `value` and `record`.
    pub fn eval(&self, value: &Value, record: &Value) -> Result<Value, String> {
        let ctx = minijinja::context! { value => MjValue::from_serialize(value), record => MjValue::from_serialize(record) };
        let out = self
            .compiled
            .eval(ctx)
            .map_err(|e| format!("`{}`: {e}", self.source))?;
        if out.is_undefined() || out.is_none() {
            return Ok(Value::Null);
        }
        serde_json::to_value(&out).map_err(|e| format!("`{}` gave no JSON value: {e}", self.source))
    }
}

impl Expr {
    /// Evaluates as a condition on `record` (minijinja truthiness: false, none,
    /// 0, "" and empty lists are false).
    pub fn test(&self, record: &Value) -> Result<bool, String> {
        let ctx = minijinja::context! { value => MjValue::from(()), record => MjValue::from_serialize(record) };
        self.compiled
            .eval(ctx)
            .map(|v| v.is_true())
            .map_err(|e| format!("`{}`: {e}", self.source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Found by the `expression` fuzz target: minijinja's lexer panicked on `}}`.
    #[test]
    fn template_delimiters_are_refused_not_a_panic() {
        for source in [
            "record.tags }}is defp\" in record.tags",
            "{{ value }}",
            "value %}",
            "{# x #}",
        ] {
            let e = Expr::compile(source).unwrap_err();
            assert!(e.contains("template delimiter"), "{source}: {e}");
        }
        // A delimiter inside a string literal is refused too (rare; the message says why).
        assert!(Expr::compile("'}}'").is_err());
        assert!(Expr::compile("'}' ~ '}'").is_ok());
    }

    #[test]
    fn expressions_read_value_and_record_and_use_the_builtins() {
        let record = json!({"firstName": "  ann ", "lastName": "Lee", "phone": "(415) 555-0123"});
        let full = Expr::compile("(record.firstName | trim | title_case) ~ ' ' ~ record.lastName")
            .unwrap();
        assert_eq!(full.eval(&Value::Null, &record).unwrap(), json!("Ann Lee"));
        let phone = Expr::compile("value | phone_e164(region='US')").unwrap();
        assert_eq!(
            phone.eval(&json!("(415) 555-0123"), &record).unwrap(),
            json!("+14155550123")
        );
        let cond = Expr::compile("'VIP' if value > 1000 else 'Regular'").unwrap();
        assert_eq!(cond.eval(&json!(5000), &record).unwrap(), json!("VIP"));
        assert_eq!(
            Expr::compile("record.missing")
                .unwrap()
                .eval(&Value::Null, &record)
                .unwrap(),
            Value::Null
        );
    }

    #[test]
    fn bad_or_runaway_expressions_fail_with_a_reason() {
        assert!(
            Expr::compile("value |")
                .unwrap_err()
                .contains("is not an expression")
        );
        let err = Expr::compile("value | phone_e164(region='XX')")
            .unwrap()
            .eval(&json!("1"), &Value::Null)
            .unwrap_err();
        assert!(err.contains("ISO 3166"), "{err}");
        // A long computation runs out of fuel instead of running on.
        let big = Expr::compile("range(100000) | map('string') | join(',')").unwrap();
        assert!(big.eval(&Value::Null, &Value::Null).is_err());
    }
}
