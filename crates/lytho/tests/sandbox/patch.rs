//! JSON-Patch updates: every RFC 6902 operation, optimistic concurrency with
//! `test` (409 on mismatch, nothing changed), and what Lytho refuses.

use lytho::{ItemType, PatchOp, RetryClass};
use serde_json::json;

use crate::helpers::{assert_api_error, spawn};

#[tokio::test]
async fn replace_add_remove_move_copy() {
    let ctx = spawn().await;
    let c = &ctx.client;
    let id = ctx.ids("task")[1];
    let before = c.get_task(id).await.unwrap();
    assert!(before.completed_date.is_none() && before.due_date.is_some());

    let after = c
        .patch_task(id, &[PatchOp::replace("/name", "Design banner (final)")])
        .await
        .unwrap();
    assert_eq!(after.name, "Design banner (final)");
    assert!(
        after.modified_at() > before.modified_at(),
        "modifiedDate moves"
    );
    assert_eq!(c.get_task(id).await.unwrap().name, "Design banner (final)");

    // copy dueDate to completedDate: the task is completed on its due date.
    let after = c
        .patch_task(id, &[PatchOp::copy_to("/dueDate", "/completedDate")])
        .await
        .unwrap();
    assert_eq!(after.completed_date, before.due_date);
    // remove clears a nullable field; add sets one.
    let after = c
        .patch_task(
            id,
            &[
                PatchOp::remove("/completedDate"),
                PatchOp::add("/archived", true),
            ],
        )
        .await
        .unwrap();
    assert!(after.completed_date.is_none() && after.archived);
    // move: the due date becomes the completion date and the due date is cleared.
    let after = c
        .patch_task(id, &[PatchOp::move_to("/dueDate", "/completedDate")])
        .await
        .unwrap();
    assert_eq!(after.completed_date, before.due_date);
    assert!(after.due_date.is_none());
    // Same shapes on every type.
    for kind in ItemType::ALL {
        let id = ctx.ids(kind.as_str())[0];
        let item = c
            .patch_item(
                kind,
                id,
                &[PatchOp::replace("/name", format!("renamed {kind}"))],
            )
            .await
            .unwrap();
        assert_eq!(item.name, format!("renamed {kind}"));
    }
    let wr = c
        .patch_work_request(
            ctx.ids("workrequest")[1],
            &[PatchOp::replace("/archived", true)],
        )
        .await
        .unwrap();
    assert!(wr.archived);
    assert!(c.patch_project(ctx.ids("project")[1], &[]).await.is_ok());
    assert!(
        c.patch_proof(
            ctx.ids("proof")[1],
            &[PatchOp::add("/dueDate", "2027-02-01T00:00:00Z")]
        )
        .await
        .unwrap()
        .due_at()
        .is_some()
    );
    assert!(
        c.patch_campaign(
            ctx.ids("campaign")[1],
            &[PatchOp::replace("/dueDate", None::<String>)]
        )
        .await
        .unwrap()
        .due_date
        .is_none()
    );
    ctx.shutdown().await;
}

/// Optimistic concurrency: `test` on `modifiedDate` guards a write. When someone
/// else changed the item first, the patch fails with 409 and changes nothing.
#[tokio::test]
async fn failed_test_is_409_and_changes_nothing() {
    let ctx = spawn().await;
    let c = &ctx.client;
    let id = ctx.ids("task")[2];
    let seen = c.get_task(id).await.unwrap();
    let guarded = |name: &str| {
        vec![
            PatchOp::test("/modifiedDate", seen.modified_date.clone().unwrap()),
            PatchOp::replace("/name", name),
        ]
    };
    // Someone edits the task in Lytho.
    ctx.post(
        "/_sandbox/touch",
        json!({"type": "task", "ids": [id], "fields": {"name": "Edited in Lytho"}}),
    )
    .await;
    let err = c.patch_task(id, &guarded("Ours")).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert_api_error(
        &err,
        409,
        RetryClass::GiveUp,
        "is not equal to the test value",
    );
    assert_eq!(
        err.api().unwrap().operation.as_deref(),
        Some("lytho-patch-task")
    );
    let now = c.get_task(id).await.unwrap();
    assert_eq!(now.name, "Edited in Lytho");

    // Re-read and retry: the guard holds now.
    let fresh = vec![
        PatchOp::test("/modifiedDate", now.modified_date.clone().unwrap()),
        PatchOp::test("/name", "Edited in Lytho"),
        PatchOp::replace("/name", "Ours"),
    ];
    assert_eq!(c.patch_task(id, &fresh).await.unwrap().name, "Ours");
    // A later op failing undoes the earlier ones of the same patch.
    let err = c
        .patch_task(
            id,
            &[
                PatchOp::replace("/name", "Lost"),
                PatchOp::test("/archived", true),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert_eq!(c.get_task(id).await.unwrap().name, "Ours");
    ctx.shutdown().await;
}

/// Read-only fields, unknown fields, bad values and bad pointers are 400s, and a
/// missing item is 404.
#[tokio::test]
async fn refused_patches() {
    let ctx = spawn().await;
    let c = &ctx.client;
    let id = ctx.ids("proof")[0];
    let before = c.get_proof(id).await.unwrap();
    for (ops, message) in [
        (vec![PatchOp::replace("/id", 1)], "cannot be changed"),
        (
            vec![PatchOp::replace("/modifiedDate", "2020-01-01T00:00:00Z")],
            "cannot be changed",
        ),
        (vec![PatchOp::add("/color", "red")], "'color' was not found"),
        (
            vec![PatchOp::replace("/dueDate", "next week")],
            "not valid for dueDate",
        ),
        (
            vec![PatchOp::replace("/archived", "yes")],
            "not valid for archived",
        ),
        (vec![PatchOp::remove("/name")], "name field is required"),
        (vec![PatchOp::replace("/nope", 1)], "was not found"),
        (vec![PatchOp::replace("name", "x")], "must start with '/'"),
    ] {
        let err = c.patch_proof(id, &ops).await.unwrap_err();
        assert_api_error(&err, 400, RetryClass::GiveUp, message);
    }
    assert_eq!(c.get_proof(id).await.unwrap(), before, "nothing changed");
    let err = c
        .patch_proof(999_999, &[PatchOp::replace("/name", "x")])
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    ctx.shutdown().await;
}
