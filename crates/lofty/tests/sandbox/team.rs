//! Members, `me`, tags, custom fields and lead pipelines.

use lofty::RetryClass;
use lofty::models::{CreateCustomField, CustomFieldType, MemberQuery, PipelineQuery};

use crate::helpers::{assert_api_error, spawn};

#[tokio::test]
async fn me_and_members() {
    let ctx = spawn().await;
    let me = ctx.client.me().await.unwrap();
    assert_eq!(me.member_user_id, ctx.owner());
    assert_eq!(me.is_admin, Some(true));
    assert_ne!(
        me.id,
        Some(me.member_user_id),
        "two id schemes: join on memberUserId"
    );
    let via_oauth = ctx.oauth.me().await.unwrap();
    assert_eq!(via_oauth.member_user_id, ctx.owner());
    let agent = ctx.agent.me().await.unwrap();
    assert_eq!(agent.member_user_id, ctx.info.member_user_ids[1]);
    assert_eq!(agent.is_admin, Some(false));

    let page = ctx
        .client
        .list_members(&MemberQuery::default())
        .await
        .unwrap();
    assert_eq!(page.meta.total, Some(3));
    assert_eq!(page.meta.limit, Some(25), "Lofty's default page size");
    let ids: Vec<i64> = page.members.iter().map(|m| m.member_user_id).collect();
    assert_eq!(ids, ctx.info.member_user_ids);
    let second = ctx
        .client
        .list_members(&MemberQuery {
            offset: Some(1),
            limit: Some(1),
            ..MemberQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(second.members[0].member_user_id, ids[1]);
    let err = ctx
        .client
        .list_members(&MemberQuery {
            limit: Some(1000),
            ..MemberQuery::default()
        })
        .await
        .unwrap_err();
    assert_api_error(&err, 400, "LIMIT_PARAM_OVERSIZE", RetryClass::GiveUp);
    let err = ctx
        .client
        .list_members(&MemberQuery {
            group_ids: vec![1],
            ..MemberQuery::default()
        })
        .await
        .unwrap_err();
    assert_api_error(&err, 404, "20003", RetryClass::GiveUp);

    let email = page.members[2].email.clone().unwrap();
    let by_account = ctx.client.get_member(&email.to_uppercase()).await.unwrap();
    assert_eq!(by_account.member_user_id, ids[2]);
    let err = ctx
        .client
        .get_member("nobody@example.com")
        .await
        .unwrap_err();
    assert_api_error(&err, 404, "20003", RetryClass::GiveUp);
    ctx.shutdown().await;
}

#[tokio::test]
async fn tags_custom_fields_and_pipelines() {
    let ctx = spawn().await;
    let tags = ctx.client.list_tags().await.unwrap();
    let defs: Vec<&str> = tags
        .iter()
        .filter(|t| t.is_definition())
        .map(|t| t.tag_name.as_str())
        .collect();
    assert_eq!(
        defs,
        [
            "lead",
            "buyer",
            "seller",
            "vip",
            "newsletter",
            "hot",
            "cold"
        ]
    );
    assert!(tags.iter().any(|t| !t.is_definition()), "applied tags too");

    let fields = ctx.client.list_custom_fields().await.unwrap();
    let names: Vec<&str> = fields.iter().map(|f| f.attribute_name.as_str()).collect();
    assert_eq!(names, ["Pincode", "Lead Score", "Preferred Contact"]);
    let answer = ctx
        .client
        .create_custom_field(&CreateCustomField {
            attribute_name: "  GHL Contact Id ".to_owned(),
            attribute_type: CustomFieldType::Text,
            params: None,
        })
        .await
        .unwrap();
    assert_eq!(answer, "success");
    let fields = ctx.client.list_custom_fields().await.unwrap();
    assert_eq!(fields[3].attribute_name, "GHL Contact Id");
    assert_eq!(fields[3].attribute_type.as_deref(), Some("text"));
    let err = ctx
        .client
        .call(
            "lofty-create-custom-field",
            serde_json::json!({"attributeName": " ", "attributeType": "text"}),
        )
        .await
        .unwrap_err();
    assert_api_error(&err, 400, "ATTRIBUTE_NAME_EMPTY", RetryClass::GiveUp);
    let err = ctx
        .client
        .call(
            "lofty-create-custom-field",
            serde_json::json!({"attributeName": "X"}),
        )
        .await
        .unwrap_err();
    assert_api_error(&err, 400, "ATTRIBUTE_TYPE_EMPTY", RetryClass::GiveUp);

    let page = ctx
        .client
        .list_lead_pipelines(&PipelineQuery::default())
        .await
        .unwrap();
    assert_eq!(page.meta.total, Some(9));
    assert_eq!(page.pipelines.len(), 9);
    assert_eq!(page.pipelines[0].name, "New Lead");
    let filtered = ctx
        .client
        .list_lead_pipelines(&PipelineQuery {
            name: Some("contact".to_owned()),
            ..PipelineQuery::default()
        })
        .await
        .unwrap();
    let names: Vec<&str> = filtered.pipelines.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Attempted Contact"]);
    let second = ctx
        .client
        .list_lead_pipelines(&PipelineQuery {
            curr_page: Some(1),
            page_size: Some(4),
            ..PipelineQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(second.pipelines[0].name, "Active");
    ctx.shutdown().await;
}
