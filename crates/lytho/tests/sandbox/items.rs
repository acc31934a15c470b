//! The read operations through their typed methods: one item, batches across
//! pages, search, users (shared with GHL's contacts), comments, descriptions and
//! pre-signed file URLs.

use std::collections::BTreeSet;

use futures_util::StreamExt;
use lytho::pagination::{comments_stream, items_stream};
use lytho::{
    CommentsQuery, Format, ItemType, LythoError, OperatorMode, PageSize, SearchQuery, UserStatus,
};
use serde_json::json;

use crate::helpers::spawn;

#[tokio::test]
async fn get_one_item_of_every_type() {
    let ctx = spawn().await;
    let c = &ctx.client;
    let wr = c.get_work_request(ctx.ids("workrequest")[0]).await.unwrap();
    assert_eq!(wr.name, "Brochure request 1");
    assert!(wr.account_id.is_some() && wr.due_at().is_some() && wr.modified_at().is_some());
    let task = c.get_task(ctx.ids("task")[0]).await.unwrap();
    assert_eq!(task.name, "Design banner 1");
    assert!(task.is_completed(), "every fourth seeded task is completed");
    assert!(!c.get_task(ctx.ids("task")[1]).await.unwrap().is_completed());
    assert_eq!(
        c.get_project(ctx.ids("project")[0]).await.unwrap().name,
        "Spring campaign kit 1"
    );
    assert_eq!(
        c.get_proof(ctx.ids("proof")[2]).await.unwrap().name,
        "Postcard proof 3"
    );
    assert_eq!(
        c.get_campaign(ctx.ids("campaign")[1]).await.unwrap().name,
        "Summer open houses 2"
    );
    // Ids are per type: a task id is not a project.
    let err = c.get_project(ctx.ids("task")[0]).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    ctx.shutdown().await;
}

/// 25 task ids, pageSize 10: pages of 10, 10 and 5, in the order asked, with
/// `totalCount`; unknown ids are left out.
#[tokio::test]
async fn batch_get_pages_through_ids() {
    let ctx = spawn().await;
    let mut ids: Vec<i32> = ctx.ids("task")[..25].to_vec();
    ids.reverse();
    let mut seen = Vec::new();
    for (page, expect) in [(1, 10), (2, 10), (3, 5), (4, 0)] {
        let p = ctx
            .client
            .get_tasks(&ids, page, PageSize::Ten)
            .await
            .unwrap();
        assert_eq!(p.items.len(), expect, "page {page}");
        assert_eq!(p.total_count, Some(25));
        assert_eq!(p.page, Some(page));
        assert_eq!(p.page_size, Some(10));
        seen.extend(p.items.into_iter().map(|i| i.id));
    }
    assert_eq!(seen, ids, "request order, each once");
    let p = ctx
        .client
        .get_tasks(&ids, 1, PageSize::Thirty)
        .await
        .unwrap();
    assert_eq!(p.items.len(), 25);
    let p = ctx
        .client
        .get_work_requests(&[ctx.ids("workrequest")[0], 999_999], 1, PageSize::Twenty)
        .await
        .unwrap();
    assert_eq!((p.items.len(), p.total_count), (1, Some(1)));

    // The stream walks chunks and pages and yields every item once.
    let all: Vec<i32> = items_stream(&ctx.client, ItemType::Task, ids.clone(), PageSize::Ten)
        .map(|r| r.unwrap().id)
        .collect()
        .await;
    assert_eq!(all, ids);
    ctx.shutdown().await;
}

#[tokio::test]
async fn search_by_name_archived_and_operator() {
    let ctx = spawn().await;
    let all = ctx
        .client
        .search_tasks(&SearchQuery::default())
        .await
        .unwrap();
    assert_eq!(all.ids, ctx.ids("task"));
    assert_eq!(all.total_count, Some(30));
    let banner = ctx
        .client
        .search_tasks(&SearchQuery {
            name: Some("BANNER".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        banner.ids.len(),
        6,
        "Design banner 1, 6, 11, ... (partial, any case)"
    );
    let archived = ctx
        .client
        .search_tasks(&SearchQuery {
            is_archived: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(archived.ids.len(), 4, "every seventh item is archived");
    let both = |mode| SearchQuery {
        name: Some("banner".to_owned()),
        is_archived: Some(true),
        operator_mode: Some(mode),
    };
    let and = ctx
        .client
        .search_tasks(&both(OperatorMode::And))
        .await
        .unwrap();
    let or = ctx
        .client
        .search_tasks(&both(OperatorMode::Or))
        .await
        .unwrap();
    let a: BTreeSet<i32> = banner.ids.iter().copied().collect();
    let b: BTreeSet<i32> = archived.ids.iter().copied().collect();
    assert_eq!(and.ids, a.intersection(&b).copied().collect::<Vec<_>>());
    assert_eq!(or.ids, a.union(&b).copied().collect::<Vec<_>>());
    let none = ctx
        .client
        .search_campaigns(&SearchQuery {
            name: Some("no such campaign".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.ids.is_empty());
    for search in [
        ctx.client
            .search_work_requests(&SearchQuery::default())
            .await,
        ctx.client.search_projects(&SearchQuery::default()).await,
        ctx.client.search_proofs(&SearchQuery::default()).await,
    ] {
        assert!(!search.unwrap().ids.is_empty());
    }
    ctx.shutdown().await;
}

/// Users on items: persons 0..3 are GHL's first seeded contacts (same emails),
/// persons 10,000+ exist only in Lytho.
#[tokio::test]
async fn users_overlap_with_ghl_contacts() {
    let ctx = spawn().await;
    let mut users = std::collections::BTreeMap::new();
    for id in ctx.ids("task") {
        for u in ctx.client.task_users(id).await.unwrap() {
            users.insert(u.id, u);
        }
    }
    assert_eq!(users.len(), 6);
    let ghl_emails: BTreeSet<String> = ctx.sandbox.ghl().with_world(|w| {
        w.locations[0]
            .contacts
            .values()
            .filter_map(|c| c.email_lower())
            .collect()
    });
    let (shared, only): (Vec<_>, Vec<_>) = users
        .values()
        .partition(|u| ghl_emails.contains(&u.email.clone().unwrap_or_default().to_lowercase()));
    assert_eq!(shared.len(), 3, "three Lytho users are GHL contacts");
    assert_eq!(only.len(), 3);
    let first = sandbox::ghl::seed::person(0);
    assert!(shared.iter().any(|u| {
        u.email.as_deref() == Some(first.2.as_str())
            && u.first_name.as_deref() == Some(first.0.as_str())
            && u.last_name.as_deref() == Some(first.1.as_str())
    }));
    assert!(
        only.iter()
            .all(|u| u.email.as_deref().unwrap().contains("1000"))
    );
    assert_eq!(
        users
            .values()
            .filter(|u| u.user_status_type == Some(UserStatus::Disabled))
            .count(),
        1
    );
    let wr = ctx.ids("workrequest")[0];
    assert_eq!(ctx.client.work_request_users(wr).await.unwrap().len(), 2);
    for (kind, users) in [
        (
            "project",
            ctx.client.project_users(ctx.ids("project")[0]).await,
        ),
        ("proof", ctx.client.proof_users(ctx.ids("proof")[0]).await),
        (
            "campaign",
            ctx.client.campaign_users(ctx.ids("campaign")[0]).await,
        ),
    ] {
        assert!(!users.unwrap().is_empty(), "{kind}");
    }
    ctx.shutdown().await;
}

#[tokio::test]
async fn comments_in_html_and_plain_across_pages() {
    let ctx = spawn().await;
    let id = ctx.ids("task")[0];
    let html = ctx
        .client
        .task_comments(id, &CommentsQuery::default())
        .await
        .unwrap();
    assert_eq!(html.total_count, Some(2));
    assert!(
        html.items[0].comment.starts_with("<p>"),
        "{:?}",
        html.items[0]
    );
    let plain = ctx
        .client
        .task_comments(
            id,
            &CommentsQuery {
                format: Some(Format::Plain),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(plain.items[1].comment, "Looks good, approved.");
    assert!(plain.items[0].user_id.is_some() && plain.items[0].created_at().is_some());

    // 12 more comments: the stream reads 14 over two pages of 10, oldest first.
    for n in 0..12 {
        ctx.post(
            "/_sandbox/comments",
            json!({"type": "task", "id": id, "text": format!("note {n}")}),
        )
        .await;
    }
    let q = CommentsQuery {
        format: Some(Format::Plain),
        page_size: Some(PageSize::Ten),
        ..Default::default()
    };
    let all: Vec<String> = comments_stream(&ctx.client, ItemType::Task, id, q)
        .map(|c| c.unwrap().comment)
        .collect()
        .await;
    assert_eq!(all.len(), 14);
    assert_eq!(all[13], "note 11");
    let by_route = &ctx.counters().await["by_route"];
    assert_eq!(by_route["GET /v1/task/{id}/comments"], 4);
    for (kind, page) in [
        (
            "wr",
            ctx.client
                .work_request_comments(ctx.ids("workrequest")[0], &q)
                .await,
        ),
        (
            "project",
            ctx.client.project_comments(ctx.ids("project")[0], &q).await,
        ),
        (
            "proof",
            ctx.client.proof_comments(ctx.ids("proof")[0], &q).await,
        ),
        (
            "campaign",
            ctx.client
                .campaign_comments(ctx.ids("campaign")[0], &q)
                .await,
        ),
    ] {
        assert!(!page.unwrap().items.is_empty(), "{kind}");
    }
    ctx.shutdown().await;
}

#[tokio::test]
async fn descriptions_one_and_many() {
    let ctx = spawn().await;
    let ids = ctx.ids("project");
    let d = ctx.client.project_description(ids[0], None).await.unwrap();
    assert_eq!(d.id, ids[0]);
    assert_eq!(
        d.description,
        "<p>Deliverables for <b>Spring campaign kit 1</b>.</p>"
    );
    let d = ctx
        .client
        .project_description(ids[0], Some(Format::Plain))
        .await
        .unwrap();
    assert_eq!(d.description, "Deliverables for Spring campaign kit 1.");
    let many = ctx
        .client
        .project_descriptions(&ids, Some(Format::Plain), 1, PageSize::Ten)
        .await
        .unwrap();
    assert_eq!(many.items.len(), ids.len());
    assert!(
        many.items
            .iter()
            .all(|d| d.description.starts_with("Deliverables"))
    );
    let t = ctx.ids("task");
    let many = ctx
        .client
        .task_descriptions(&t, None, 2, PageSize::Twenty)
        .await
        .unwrap();
    assert_eq!((many.items.len(), many.total_count), (10, Some(30)));
    assert!(ctx.client.task_description(t[0], None).await.is_ok());
    assert!(
        ctx.client
            .proof_description(ctx.ids("proof")[0], None)
            .await
            .is_ok()
    );
    assert!(
        ctx.client
            .campaign_description(ctx.ids("campaign")[0], None)
            .await
            .is_ok()
    );
    assert!(
        ctx.client
            .proof_descriptions(&ctx.ids("proof"), None, 1, PageSize::Ten)
            .await
            .is_ok()
    );
    assert!(
        ctx.client
            .campaign_descriptions(&ctx.ids("campaign"), None, 1, PageSize::Ten)
            .await
            .is_ok()
    );
    // Work requests have none: refused locally, no request sent.
    let err = ctx
        .client
        .item_description(ItemType::WorkRequest, ctx.ids("workrequest")[0], None)
        .await
        .unwrap_err();
    assert!(matches!(err, LythoError::InvalidInput(_)), "{err:?}");
    ctx.shutdown().await;
}

/// Pre-signed file URLs work without a token until they expire.
#[tokio::test]
async fn file_urls_are_presigned_and_expire() {
    let ctx = spawn().await;
    let wr = ctx.ids("workrequest")[0];
    let files = ctx.client.work_request_deliverable_files(wr).await.unwrap();
    assert_eq!(files.len(), 1);
    let f = &files[0];
    assert_eq!(f.file_version_name, format!("deliverable-{wr}.pdf"));
    assert!(f.url_expiration.is_some());
    let body = ctx.http.get(&f.url).send().await.unwrap();
    assert_eq!(body.status(), 200);
    assert!(body.text().await.unwrap().starts_with("%PDF"));

    ctx.post("/_sandbox/config", json!({"file_url_ttl_secs": 0}))
        .await;
    let task = ctx.ids("task")[0];
    let files = ctx.client.task_files(task).await.unwrap();
    assert!(files[0].file_version_name.starts_with("task-"));
    let expired = ctx.http.get(&files[0].url).send().await.unwrap();
    assert_eq!(expired.status(), 403);
    for files in [
        ctx.client.project_files(ctx.ids("project")[0]).await,
        ctx.client.proof_files(ctx.ids("proof")[0]).await,
        ctx.client.campaign_files(ctx.ids("campaign")[0]).await,
    ] {
        assert_eq!(files.unwrap().len(), 1);
    }
    ctx.shutdown().await;
}
