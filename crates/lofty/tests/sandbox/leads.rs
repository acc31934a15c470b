//! Leads through the typed methods: create, read, update, tags, trash, search.

use std::time::Duration;

use lofty::RetryClass;
use lofty::models::{CreateLead, CustomAttribute, LeadQuery, OwnershipScope, UpdateLead};
use serde_json::json;

use crate::helpers::{assert_api_error, spawn, unique_email};

#[tokio::test]
async fn create_read_update_and_trash_a_lead() {
    let ctx = spawn().await;
    let email = unique_email("jane");
    let id = ctx
        .client
        .create_lead(&CreateLead {
            last_name: Some("Smith".to_owned()),
            emails: Some(vec![email.clone()]),
            phones: Some(vec!["+1 (415) 555-1234".to_owned()]),
            lead_types: Some(vec![2]),
            source: Some("GHL".to_owned()),
            stage: Some("active".to_owned()),
            tags_add: Some(vec!["GHL".to_owned(), "buyer".to_owned()]),
            custom_attribute_list: Some(vec![CustomAttribute::new("Lead Score", "42")]),
            content: Some("Imported from GHL".to_owned()),
            is_pin: Some(true),
            ..CreateLead::new("Jane with a very long first name indeed")
        })
        .await
        .unwrap();
    // Ids are 64-bit and above 2^53: a float would have rounded them.
    assert!(id > 1 << 53, "{id}");
    let lead = ctx.client.get_lead(id).await.unwrap();
    assert_eq!(lead.lead_id, id);
    assert_eq!(
        lead.first_name.as_deref(),
        Some("Jane with a very long first na"),
        "cut to 30 characters"
    );
    assert_eq!(lead.email(), Some(email.as_str()));
    assert_eq!(lead.phone(), Some("+1 (415) 555-1234"));
    assert_eq!(lead.stage.as_deref(), Some("Active"));
    assert_eq!(lead.source.as_deref(), Some("GHL"));
    assert_eq!(lead.tag_names(), ["GHL", "buyer"]);
    assert_eq!(lead.custom("lead score"), Some("42"));
    assert_eq!(lead.assigned_user_id, Some(ctx.owner()));
    assert!(lead.updated_at().is_some());
    assert!(lead.extra.contains_key("leadPropertyList"));
    let notes = ctx.client.list_notes(id, false).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].content, "Imported from GHL");
    assert_eq!(notes[0].is_pin, Some(true));

    // Partial update: only what is sent changes.
    let agent = ctx.info.member_user_ids[1];
    let same = ctx
        .client
        .update_lead(
            id,
            &UpdateLead {
                last_name: Some("Smith-Jones".to_owned()),
                assigned_user_id: Some(agent),
                cannot_text: Some(true),
                ..UpdateLead::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(same, id);
    let lead = ctx.client.get_lead(id).await.unwrap();
    assert_eq!(lead.last_name.as_deref(), Some("Smith-Jones"));
    assert_eq!(lead.email(), Some(email.as_str()));
    assert_eq!(lead.assigned_user_id, Some(agent));
    assert_eq!(lead.cannot_text, Some(true));
    assert_eq!(lead.tag_names(), ["GHL", "buyer"]);

    // Trash needs a reason; trashed leads are gone unless asked for.
    let err = ctx.client.delete_lead(id, " ").await.unwrap_err();
    assert_api_error(&err, 400, "20012", RetryClass::GiveUp);
    ctx.client.delete_lead(id, "merged in GHL").await.unwrap();
    let err = ctx.client.get_lead(id).await.unwrap_err();
    assert_api_error(&err, 404, "20006", RetryClass::GiveUp);
    assert!(err.is_not_found());
    let trashed = ctx.client.get_lead_with_trash(id).await.unwrap();
    assert_eq!(trashed.lead_id, id);
    let err = ctx.client.delete_lead(id, "again").await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    ctx.shutdown().await;
}

#[tokio::test]
async fn tags_add_remove_replace_and_clear() {
    let ctx = spawn().await;
    let lead = ctx.new_lead("Tagged").await;
    let id = lead.lead_id;
    let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    ctx.client
        .add_lead_tags(id, &names(&["vip", "hot"]))
        .await
        .unwrap();
    ctx.client
        .add_lead_tags(id, &names(&["GHL"]))
        .await
        .unwrap();
    let tags = ctx.client.get_lead(id).await.unwrap();
    assert_eq!(
        tags.tag_names(),
        ["vip", "hot", "GHL"],
        "tagsAdd keeps the others"
    );
    ctx.client
        .remove_lead_tags(id, &names(&["hot", "not-there"]))
        .await
        .unwrap();
    assert_eq!(
        ctx.client.get_lead(id).await.unwrap().tag_names(),
        ["vip", "GHL"]
    );
    ctx.client
        .set_lead_tags(id, &names(&["cold"]))
        .await
        .unwrap();
    assert_eq!(
        ctx.client.get_lead(id).await.unwrap().tag_names(),
        ["cold"],
        "tags replaces the whole list"
    );
    // Integers become tag names (observed live); tag objects are accepted too.
    ctx.client
        .call(
            "lofty-update-lead",
            json!({"leadId": id, "tagsAdd": [6536952, {"tagName": "from-object"}]}),
        )
        .await
        .unwrap();
    assert_eq!(
        ctx.client.get_lead(id).await.unwrap().tag_names(),
        ["cold", "6536952", "from-object"]
    );
    // New tag names become team tag definitions.
    let team_tags = ctx.client.tag_names().await.unwrap();
    assert!(team_tags.iter().any(|t| t == "6536952"), "{team_tags:?}");
    let clear = UpdateLead {
        clear_all_tags: Some(true),
        tags_add: Some(names(&["ignored"])),
        ..UpdateLead::default()
    };
    ctx.client.update_lead(id, &clear).await.unwrap();
    assert!(ctx.client.get_lead(id).await.unwrap().tags.is_empty());
    ctx.shutdown().await;
}

#[tokio::test]
async fn search_by_email_phone_tags_stage_and_key() {
    let ctx = spawn().await;
    // Seeded leads are person(i) for i in 5..15; person(5) is Mason Smith.
    let mason = ctx
        .client
        .find_leads_by_email("MASON.SMITH5@example.com")
        .await
        .unwrap();
    assert_eq!(mason.len(), 1);
    assert_eq!(mason[0].first_name.as_deref(), Some("Mason"));
    let by_phone = ctx.client.find_leads_by_phone("5551000005").await.unwrap();
    assert_eq!(by_phone.len(), 1);
    assert_eq!(by_phone[0].lead_id, mason[0].lead_id);
    assert!(
        ctx.client
            .find_leads_by_email("nobody@example.com")
            .await
            .unwrap()
            .is_empty()
    );

    let tagged = ctx
        .client
        .list_leads(&LeadQuery::with_all_tags(["vip"]))
        .await
        .unwrap();
    assert!(!tagged.leads.is_empty());
    assert!(tagged.leads.iter().all(|l| l.tag_names().contains(&"vip")));
    assert_eq!(tagged.meta.total, Some(tagged.leads.len() as i64));
    let any = ctx
        .client
        .list_leads(&LeadQuery {
            any_tags: vec!["vip".to_owned(), "cold".to_owned()],
            ..LeadQuery::default()
        })
        .await
        .unwrap();
    assert!(any.leads.len() > tagged.leads.len());

    let stage = ctx
        .client
        .list_leads(&LeadQuery::by_stage("Active"))
        .await
        .unwrap();
    assert!(!stage.leads.is_empty());
    assert!(
        stage
            .leads
            .iter()
            .all(|l| l.stage.as_deref() == Some("Active"))
    );
    let both = ctx
        .client
        .list_leads(&LeadQuery {
            stage: Some("Active".to_owned()),
            all_tags: vec!["no-such-tag".to_owned()],
            ..LeadQuery::default()
        })
        .await
        .unwrap();
    assert!(both.leads.is_empty(), "filters combine with AND");
    let fuzzy = ctx
        .client
        .list_leads(&LeadQuery {
            key: Some("mason".to_owned()),
            ..LeadQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(fuzzy.leads.len(), 1);
    ctx.shutdown().await;
}

#[tokio::test]
async fn freshly_created_leads_404_for_the_configured_moment() {
    let ctx = spawn().await;
    ctx.config(json!({"consistency_delay_ms": 300})).await;
    let email = unique_email("later");
    let id = ctx
        .client
        .create_lead(&CreateLead {
            emails: Some(vec![email.clone()]),
            ..CreateLead::new("Later")
        })
        .await
        .unwrap();
    let err = ctx.client.get_lead(id).await.unwrap_err();
    assert_api_error(&err, 404, "20006", RetryClass::GiveUp);
    assert!(
        ctx.client
            .find_leads_by_email(&email)
            .await
            .unwrap()
            .is_empty()
    );
    // Writes are not affected.
    ctx.client
        .update_lead(
            id,
            &UpdateLead {
                last_name: Some("Written".to_owned()),
                ..UpdateLead::default()
            },
        )
        .await
        .unwrap();
    let err = ctx
        .client
        .get_lead_eventually(id, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    // Notes are persisted the same way: GET answers 404 at first, DELETE works.
    let note = ctx
        .client
        .create_note(&lofty::models::NoteInput::new(id, "early"))
        .await
        .unwrap();
    let err = ctx.client.get_note(note).await.unwrap_err();
    assert_api_error(&err, 404, "20007", RetryClass::GiveUp);
    let kept = ctx
        .client
        .create_note(&lofty::models::NoteInput::new(id, "kept"))
        .await
        .unwrap();
    ctx.client.delete_note(note).await.unwrap();
    let lead = ctx
        .client
        .get_lead_eventually(id, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(lead.last_name.as_deref(), Some("Written"));
    let kept = ctx
        .client
        .get_note_eventually(kept, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(kept.content, "kept");
    ctx.shutdown().await;
}

#[tokio::test]
async fn validation_errors_and_permissions() {
    let ctx = spawn().await;
    let cases = [
        (json!({"lastName": "NoFirst"}), "20012"),
        (
            json!({"firstName": "A", "stage": "Nonexistent stage"}),
            "20012",
        ),
        (json!({"firstName": "A", "stage": "x".repeat(25)}), "20012"),
        (
            json!({"firstName": "A", "phones": ["1".repeat(21)]}),
            "20043",
        ),
        (
            json!({"firstName": "A", "property": {"city": " "}}),
            "200057",
        ),
        (json!({"firstName": "A", "assignedUserId": 1}), "20012"),
        (json!({"firstName": "A", "leadTypes": [3]}), "20012"),
        (
            json!({"firstName": "A", "customAttributeList": [{"attributeName": "Nope", "value": "1"}]}),
            "20012",
        ),
        (json!({"firstName": ["not", "a", "string"]}), "20012"),
    ];
    for (body, code) in cases {
        let err = ctx
            .client
            .call("lofty-create-lead", json!({ "body": body }))
            .await
            .unwrap_err();
        assert_api_error(&err, 400, code, RetryClass::GiveUp);
    }
    let err = ctx.client.get_lead(1).await.unwrap_err();
    assert_api_error(&err, 404, "20006", RetryClass::GiveUp);
    let err = ctx
        .client
        .call("lofty-get-lead", json!({"leadId": "abc"}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));

    // A plain agent cannot see another agent's personal lead.
    let third = ctx.info.member_user_ids[2];
    let id = ctx
        .client
        .create_lead(&CreateLead {
            assigned_user_id: Some(third),
            ownership_scope: Some(OwnershipScope::Personal),
            ownership_id: Some(third),
            ..CreateLead::new("Private")
        })
        .await
        .unwrap();
    let err = ctx.agent.get_lead(id).await.unwrap_err();
    assert_api_error(&err, 404, "20006", RetryClass::GiveUp);
    assert!(ctx.client.get_lead(id).await.is_ok(), "the owner sees it");
    ctx.shutdown().await;
}
