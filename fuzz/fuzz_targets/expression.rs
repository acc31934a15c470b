//! An expression (a [filter] condition or an `expr` transform): compiled or
//! refused, then evaluated against a record with the engine's fuel limit: a
//! result or an error, never a panic or a hang.
#![no_main]

use domain::sync::expr::Expr;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = Expr::compile(source) else {
        return;
    };
    let record = json!({"firstName": "Ada", "tags": ["vip"], "score": 7, "nested": {"a": [1, 2]}});
    let _ = expr.eval(&json!(" Value "), &record);
    let _ = expr.test(&record);
});
