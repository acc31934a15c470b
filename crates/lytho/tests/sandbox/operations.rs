//! Every operation of `lytho::OPERATIONS`, once, through `LythoClient::call` with a
//! valid input: each must answer 2xx with the shape its action promises, and reach
//! the sandbox under the table's method and path.

use std::collections::BTreeSet;

use lytho::{Action, ItemType, OPERATIONS};
use serde_json::{Value, json};

use crate::helpers::spawn;

#[tokio::test]
async fn call_reaches_every_operation() {
    let ctx = spawn().await;
    let mut called = BTreeSet::new();
    for op in OPERATIONS {
        let kind = op.item_type.as_str();
        let ids = ctx.ids(kind);
        let id = ids[0];
        let input = match op.action {
            Action::Get | Action::Users | Action::Files => json!({"id": id}),
            Action::GetMany => json!({"ids": &ids[..3], "page": 1, "pageSize": 20}),
            Action::Search => json!({"isArchived": false, "operatorMode": 2}),
            Action::Comments => json!({"id": id, "format": "plain", "page": 1, "pageSize": 10}),
            Action::Description => json!({"id": id, "format": "html"}),
            Action::Descriptions => json!({"ids": &ids[..2], "format": "plain"}),
            Action::Patch => json!({"id": id, "body": [
                {"op": "test", "path": "/id", "value": id},
                {"op": "replace", "path": "/name", "value": format!("via call {}", op.id)}
            ]}),
        };
        let out = ctx
            .client
            .call(op.id, input)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", op.id));
        match op.action {
            Action::Get => assert_eq!(out["id"], id, "{}", op.id),
            Action::Patch => assert_eq!(out["name"], format!("via call {}", op.id)),
            Action::GetMany => assert_eq!(out["items"].as_array().unwrap().len(), 3),
            Action::Descriptions => assert_eq!(out["items"].as_array().unwrap().len(), 2),
            Action::Search => assert!(!out["ids"].as_array().unwrap().is_empty()),
            Action::Comments => assert!(out["items"][0]["comment"].is_string(), "{out}"),
            Action::Description => assert!(out["description"].as_str().unwrap().starts_with("<p>")),
            Action::Users | Action::Files => {
                assert!(!out.as_array().unwrap().is_empty(), "{}: {out}", op.id);
            }
        }
        called.insert(op.id);
    }
    assert_eq!(called.len(), OPERATIONS.len());

    // Every operation reached a route of the same method and path shape.
    let routes = ctx.counters().await["by_route"].clone();
    let Value::Object(routes) = routes else {
        panic!("by_route is an object")
    };
    for op in OPERATIONS {
        let shape = format!("{} /v1{}", op.method, op.path);
        assert!(
            routes.contains_key(&shape),
            "{} not served as {shape}",
            op.id
        );
    }
    // One token for 43 calls.
    assert_eq!(ctx.client.tokens().fetch_count(), 1);
    // Types without descriptions have no such operations.
    assert!(
        ItemType::WorkRequest
            .operation(Action::Description)
            .is_none()
    );
    ctx.shutdown().await;
}
